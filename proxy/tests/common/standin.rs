//! A stand-in for Terra on loopback that behaves as TERRA_API.md says, with switches for the
//! cases the tests need: userInfo's `is_authenticated` / `active`, either widget path missing,
//! a 401 that echoes the credentials, a huge answer, and a forward target that fails first.

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
}

#[derive(Clone)]
struct Shared {
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<Mutex<usize>>,
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
        "/api/v2/userInfo" => json(
            StatusCode::OK,
            json!({"status":"success","is_authenticated": b.is_authenticated,
                   "user":{"user_id":"u-1","provider":"OURA","reference_id":"alice","active": b.active}}),
        ),
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
    let shared =
        Shared { failures_left: Arc::new(Mutex::new(behaviour.forward_failures)), behaviour, log: log.clone() };
    let app = Router::new().fallback(answer).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    StandIn { origin, log }
}
