//! A stand-in for Terra on loopback that behaves as TERRA_API.md says, with switches for the
//! cases the tests need: userInfo's `is_authenticated` / `active`, either widget path missing,
//! a 401 that echoes the credentials, a huge answer, and a forward target that fails first.
//!
//! Its users: `u-1` (OURA, reference id `alice`, with the `is_authenticated` / `active` of
//! the behaviour) and [`Behaviour::users`]. `GET /userInfo?user_id=` answers one of them
//! (404 unknown), `GET /userInfo?reference_id=` a bare array of that reference id's users
//! (plus [`Behaviour::list_extra`], as a misbehaving Terra would), `DELETE
//! /auth/deauthenticateUser?user_id=` removes one (200 `{"status":"success"}`, 404 unknown),
//! and `GET /integrations/detailed` answers [`Behaviour::catalogue`] with the credentials and
//! [`general_catalogue`] without a `dev-id`. Every request is recorded.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::{API_KEY, DEV_ID};

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How the stand-in behaves.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// userInfo's `is_authenticated` and `user.active`, as raw JSON.
    pub is_authenticated: Value,
    pub active: Value,
    /// The docs' widget path answers 404.
    pub docs_widget_path_missing: bool,
    /// The widget's `expires_in`.
    pub expires_in: Value,
    /// Every API call answers 401 with a body echoing the credentials.
    pub echo_401: bool,
    /// authenticateUser answers 400 with a message echoing the API key.
    pub echo_400: bool,
    /// authenticateUser answers 200 with an auth_url holding the API key.
    pub echo_200: bool,
    /// authenticateUser answers 200 with this many bytes, streamed.
    pub huge: Option<usize>,
    /// The forward target answers 500 this many times first.
    pub forward_failures: usize,
    /// More users (Terra's user objects, each with `user_id` and `reference_id`); `is_authenticated`
    /// is `true` for those whose `active` is `true`.
    pub users: Vec<Value>,
    /// Appended to every `userInfo?reference_id=` answer (entries a correct Terra would not send).
    pub list_extra: Vec<Value>,
    /// `userInfo?reference_id=` answers 404 instead of an empty array.
    pub list_404_when_empty: bool,
    /// `userInfo?reference_id=` answers this many users of the asked reference id instead.
    pub list_many: Option<usize>,
    /// `deauthenticateUser` answers this status (with an error body) instead.
    pub deauth_status: Option<u16>,
    /// `deauthenticateUser` waits this long first.
    pub deauth_delay: Option<std::time::Duration>,
    /// The account's `integrations/detailed` providers (with the credentials); `None`: [`account_catalogue`].
    pub catalogue: Option<Value>,
    /// `integrations/detailed` answers 500.
    pub catalogue_fails: bool,
}

/// The account's providers (`integrations/detailed` with the credentials), as Terra shapes them.
pub fn account_catalogue() -> Value {
    json!([
        {"provider":"OURA","name":"Oura","icon":"https://cdn.example/oura.webp","setup":"...","enabled":true,
         "types":{"activity":true,"sleep":true}},
        {"provider":"GARMIN","name":"Garmin","icon":"https://cdn.example/garmin.webp","enabled":false},
        {"provider":"FITBIT","name":"Fitbit","icon":"javascript:alert(1)","enabled":true},
        {"provider":"WITHINGS","icon":"http://cdn.example/withings.png"},
        {"provider":"not a name!","name":"Broken","enabled":true}
    ])
}

/// Every provider (`integrations/detailed` without a `dev-id`): the account's and more.
pub fn general_catalogue() -> Value {
    let mut all = account_catalogue().as_array().unwrap().clone();
    all.push(json!({"provider":"STRAVA","name":"Strava","icon":"https://cdn.example/strava.webp","enabled":true}));
    all.push(json!({"provider":"GARMIN","name":"Garmin","enabled":true}));
    Value::Array(all)
}

#[derive(Clone)]
struct Shared {
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<Mutex<usize>>,
    /// Every user: (user object, is_authenticated).
    users: Arc<Mutex<Vec<(Value, Value)>>>,
}

/// A running stand-in.
pub struct StandIn {
    /// `http://127.0.0.1:P`.
    pub origin: String,
    log: Arc<Mutex<Vec<Received>>>,
}

impl StandIn {
    /// Its API base, as Terra's: `{origin}/api/v2`.
    pub fn api_base(&self) -> String {
        format!("{}/api/v2", self.origin)
    }

    /// What it received, in order.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Requests to `path`.
    pub fn to(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Requests to `{base}/auth/deauthenticateUser`.
    pub fn deauths(&self) -> Vec<Received> {
        self.to("/api/v2/auth/deauthenticateUser")
    }

    /// Forgets what it received.
    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Received {
    /// The decoded value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Whether it carried the proxy's credentials.
    pub fn has_credentials(&self) -> bool {
        credentials_ok(&self.headers)
    }
}

/// A user object as Terra has it.
pub fn user(user_id: &str, provider: &str, reference_id: &str, active: Value) -> Value {
    json!({"user_id": user_id, "provider": provider, "reference_id": reference_id, "active": active,
           "created_at": "2026-11-30T10:00:00Z", "last_webhook_update": null, "scopes": "activity:read,sleep:read"})
}

fn credentials_ok(headers: &HeaderMap) -> bool {
    headers.get("dev-id").is_some_and(|v| v == DEV_ID) && headers.get("x-api-key").is_some_and(|v| v == API_KEY)
}

async fn answer(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    shared.log.lock().unwrap().push(Received {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body: body.clone(),
    });
    let b = &shared.behaviour;
    let json = |status: StatusCode, v: Value| (status, axum::Json(v)).into_response();
    if path == "/forward" {
        let mut left = shared.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return json(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "down"}));
        }
        return json(StatusCode::OK, json!({"ok": true}));
    }
    if path == "/api/v2/integrations/detailed" && !headers.contains_key("dev-id") && !b.echo_401 {
        // Terra's general list, for a caller without credentials.
        return json(StatusCode::OK, json!({"status":"success","providers": general_catalogue()}));
    }
    if b.echo_401 {
        return json(
            StatusCode::UNAUTHORIZED,
            json!({"status":"error","message": format!("invalid credentials dev-id={DEV_ID} x-api-key={API_KEY}")}),
        );
    }
    if !credentials_ok(&headers) {
        return json(StatusCode::UNAUTHORIZED, json!({"status":"error","message":"unauthorized"}));
    }
    match path.as_str() {
        "/api/v2/auth/authenticateUser" => {
            if b.echo_400 {
                return json(
                    StatusCode::BAD_REQUEST,
                    json!({"status":"error","message": format!("bad key {API_KEY}")}),
                );
            }
            if b.echo_200 {
                return json(
                    StatusCode::OK,
                    json!({"status":"success","user_id":"u-1","auth_url": format!("https://p.example/?k={API_KEY}")}),
                );
            }
            if let Some(size) = b.huge {
                let chunk = Bytes::from(vec![b' '; 64 * 1024]);
                let chunks = size / chunk.len();
                let stream = futures_stream(chunk, chunks);
                return Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(stream)
                    .unwrap();
            }
            json(
                StatusCode::OK,
                json!({"status":"success","user_id":"u-1","auth_url":"https://provider.example/login"}),
            )
        }
        "/api/v2/userInfo" => user_info(&shared, uri.query()),
        "/api/v2/auth/deauthenticateUser" if method == Method::DELETE => {
            if let Some(delay) = b.deauth_delay {
                tokio::time::sleep(delay).await;
            }
            if let Some(status) = b.deauth_status {
                let status = StatusCode::from_u16(status).unwrap();
                return json(status, json!({"status":"error","message":"deauthentication failed"}));
            }
            let Some(user_id) = param(uri.query(), "user_id") else {
                return json(StatusCode::BAD_REQUEST, json!({"status":"error","message":"user_id is required"}));
            };
            let mut users = shared.users.lock().unwrap();
            let before = users.len();
            users.retain(|(u, _)| u["user_id"] != user_id.as_str());
            if users.len() == before {
                return json(StatusCode::NOT_FOUND, json!({"status":"error","message":"user not found"}));
            }
            json(StatusCode::OK, json!({"status":"success"}))
        }
        "/api/v2/integrations/detailed" => {
            if b.catalogue_fails {
                return json(StatusCode::INTERNAL_SERVER_ERROR, json!({"status":"error","message":"down"}));
            }
            json(
                StatusCode::OK,
                json!({"status":"success","providers": b.catalogue.clone().unwrap_or_else(account_catalogue)}),
            )
        }
        "/api/widget/session" if b.docs_widget_path_missing => {
            json(StatusCode::NOT_FOUND, json!({"status":"error","message":"Not Found"}))
        }
        "/api/widget/session" | "/widget/api/session" | "/custom/widget" => json(
            StatusCode::OK,
            json!({"status":"success","session_id":"s-1","url":"https://widget.tryterra.co/session/s-1",
                   "expires_in": b.expires_in}),
        ),
        _ => json(StatusCode::NOT_FOUND, json!({"status":"error","message":"Not Found"})),
    }
}

fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `GET /userInfo?user_id=` (one user, 404 unknown) or `?reference_id=` (a bare array).
fn user_info(shared: &Shared, query: Option<&str>) -> Response {
    let b = &shared.behaviour;
    let json = |status: StatusCode, v: Value| (status, axum::Json(v)).into_response();
    let users = shared.users.lock().unwrap();
    if let Some(user_id) = param(query, "user_id") {
        return match users.iter().find(|(u, _)| u["user_id"] == user_id.as_str()) {
            Some((user, is_authenticated)) => {
                json(StatusCode::OK, json!({"status":"success","is_authenticated": is_authenticated, "user": user}))
            }
            None => json(StatusCode::NOT_FOUND, json!({"status":"error","message":"user not found"})),
        };
    }
    let Some(reference_id) = param(query, "reference_id") else {
        return json(StatusCode::BAD_REQUEST, json!({"status":"error","message":"user_id or reference_id required"}));
    };
    if let Some(count) = b.list_many {
        let many: Vec<Value> =
            (0..count).map(|i| user(&format!("many-{i:06}"), "OURA", &reference_id, Value::Bool(true))).collect();
        return json(StatusCode::OK, Value::Array(many));
    }
    let mut listed: Vec<Value> =
        users.iter().filter(|(u, _)| u["reference_id"] == reference_id.as_str()).map(|(u, _)| u.clone()).collect();
    if listed.is_empty() && b.list_404_when_empty {
        return json(StatusCode::NOT_FOUND, json!({"status":"error","message":"no users"}));
    }
    listed.extend(b.list_extra.iter().cloned());
    json(StatusCode::OK, Value::Array(listed))
}

/// A body of `count` copies of `chunk`, produced as it is read.
fn futures_stream(chunk: Bytes, count: usize) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        for _ in 0..count {
            if tx.send(Ok(chunk.clone())).await.is_err() {
                return;
            }
        }
    });
    Body::from_stream(tokio_stream(rx))
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Starts a stand-in with `behaviour`.
pub async fn start(behaviour: Behaviour) -> StandIn {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut users = vec![(
        json!({"user_id":"u-1","provider":"OURA","reference_id":"alice","active": behaviour.active}),
        behaviour.is_authenticated.clone(),
    )];
    users.extend(behaviour.users.iter().map(|u| (u.clone(), Value::Bool(u["active"] == true))));
    let shared = Shared {
        failures_left: Arc::new(Mutex::new(behaviour.forward_failures)),
        behaviour,
        log: log.clone(),
        users: Arc::new(Mutex::new(users)),
    };
    let app = Router::new().fallback(answer).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn { origin, log }
}
