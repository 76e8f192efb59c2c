//! Shared helpers: run the real `terra-connect-proxy` binary on a loopback port.

#![allow(dead_code)]

pub mod standin;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// The fake Terra's developer id.
pub const DEV_ID: &str = "dev-id-3f9a";
/// The fake Terra's API key: it must never show up in a response or a log.
pub const API_KEY: &str = "key-SECRET-7c21d0";

/// A running proxy binary; killed on drop. Its logs (stderr) go to `log_path`.
pub struct ProxyProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where stderr (the tracing logs) is written.
    pub log_path: PathBuf,
}

impl ProxyProcess {
    /// Starts the binary with `env` on a free port (TERRA_CONNECT_ADDR=127.0.0.1:0).
    pub fn start(env: &[(&str, &str)]) -> ProxyProcess {
        let log_path = std::env::temp_dir().join(format!("terra-connect-proxy-test-{}.log", uuid::Uuid::new_v4()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_terra-connect-proxy"));
        command
            .env_clear()
            .env("TERRA_CONNECT_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the proxy binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap_or_default().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "proxy did not print its address: {line:?}");
        ProxyProcess { child, url, log_path }
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The peak resident memory of the process so far, in KiB (Linux's VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until the logs contain `needle` (at most 5 s).
    pub async fn wait_for_log(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.logs().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// What the proxy logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// `POST {api}/auth/authenticateUser?resource=…` with `body`; the JSON answer.
pub async fn create_session(api: &str, resource: &str, body: Value) -> Value {
    client()
        .post(format!("{api}/auth/authenticateUser?resource={resource}"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Answers the sandbox consent page of `session` with `decision` (`allow` or `deny`).
pub async fn decide(session: &Value, decision: &str) -> reqwest::Response {
    client().post(session["auth_url"].as_str().unwrap()).form(&[("decision", decision)]).send().await.unwrap()
}

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[derive(Default, Clone)]
pub struct Seen {
    /// The query string.
    pub query: Option<String>,
    /// Every header.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

/// What the fake Terra received.
pub type Log = Arc<Mutex<Vec<Seen>>>;

async fn fake_terra(
    State(log): State<Log>,
    Path(mode): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    log.lock().unwrap().push(Seen { query, headers, body });
    let json = |status: StatusCode, v: Value| (status, axum::Json(v)).into_response();
    match mode.as_str() {
        "ok" => json(
            StatusCode::OK,
            json!({"status":"success","user_id":"u-1","auth_url":"https://provider.example/login","extra":"x"}),
        ),
        "slow-ok" => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            json(
                StatusCode::OK,
                json!({"status":"success","user_id":"u-slow","auth_url":"https://provider.example/login"}),
            )
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            json(StatusCode::OK, json!({}))
        }
        "500" => (StatusCode::INTERNAL_SERVER_ERROR, "stack trace with internal details").into_response(),
        "garbage" => (StatusCode::OK, "<html>definitely not json</html>").into_response(),
        "incomplete" => json(StatusCode::OK, json!({"status":"success","user_id":"u-1"})),
        "400" => json(StatusCode::BAD_REQUEST, json!({"status":"error","message":"language is not supported"})),
        "404" => json(StatusCode::NOT_FOUND, json!({"status":"error","message":"Invalid resource"})),
        "401" => json(StatusCode::UNAUTHORIZED, json!({"status":"error","message":"unauthorized"})),
        "problem" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            [("content-type", "application/problem+json")],
            json!({"type":"about:blank","title":"Unprocessable","instance":"/x","detail":"reference_id too long"})
                .to_string(),
        )
            .into_response(),
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    }
}

/// Starts a fake Terra; `{url}/{mode}` is an API base with the behaviour `mode`.
pub async fn start_fake() -> (String, Log) {
    let log = Log::default();
    let app = Router::new().route("/{mode}/auth/authenticateUser", post(fake_terra)).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}
