//! The locked-down proxy: allowlists, rate limit, CORS, the reference-id hook of the library,
//! structured logs, and graceful shutdown, over real loopback HTTP.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{client, start_fake, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};
use terra_connect_proxy::{ApiError, Credentials, ProxyBuilder};

fn with_fake(base: &str, extra: &[(&str, &str)]) -> ProxyProcess {
    let mut env = vec![
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", base),
        ("TERRA_CONNECT_LOG_FORMAT", "json"),
    ];
    env.extend_from_slice(extra);
    ProxyProcess::start(&env)
}

async fn post(url: &str, resource: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client()
        .post(format!("{url}/api/terra/auth/authenticateUser?resource={resource}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn redirect_urls_outside_the_allowed_origins_are_refused_and_not_forwarded() {
    let (base, log) = start_fake().await;
    let proxy = with_fake(&format!("{base}/ok"), &[("TERRA_CONNECT_ALLOWED_REDIRECTS", "https://app.example")]);
    for bad in ["https://evil.example/done", "https://app.example.evil.example/", "http://app.example/done"] {
        let (status, _, body) = post(&proxy.url, "FITBIT", json!({ "auth_success_redirect_url": bad })).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("redirect_not_allowed")), "{bad}");
    }
    assert!(log.lock().unwrap().is_empty(), "nothing reached Terra");
    let ok = json!({ "auth_success_redirect_url": "https://app.example/done?tc_outcome=success" });
    assert_eq!(post(&proxy.url, "FITBIT", ok).await.0, 200);
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let (base, log) = start_fake().await;
    let proxy = with_fake(&format!("{base}/ok"), &[("TERRA_CONNECT_RATE_LIMIT", "3")]);
    for _ in 0..3 {
        assert_eq!(post(&proxy.url, "FITBIT", json!({})).await.0, 200);
    }
    let (status, headers, body) = post(&proxy.url, "FITBIT", json!({})).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(headers["retry-after"], "20");
    assert_eq!(log.lock().unwrap().len(), 3, "the refused request was not forwarded");
}

#[tokio::test]
async fn cors_headers_only_for_allowed_origins() {
    let (base, _) = start_fake().await;
    let proxy = with_fake(&format!("{base}/ok"), &[("TERRA_CONNECT_CORS_ORIGINS", "https://app.example")]);
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{}/api/terra/auth/authenticateUser", proxy.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn one_json_log_line_per_request_with_upstream_status_and_no_secrets() {
    let (base, _) = start_fake().await;
    let proxy = with_fake(&format!("{base}/400"), &[]);
    assert_eq!(post(&proxy.url, "FITBIT", json!({})).await.0, 400);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = proxy.logs();
    let line: Value = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "request")
        .expect("a JSON request line");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["path"], "/api/terra/auth/authenticateUser");
    assert_eq!(fields["status"], 400);
    assert_eq!(fields["upstream_status"], 400);
    assert!(fields["latency_ms"].as_f64().is_some());
    assert!(!logs.contains(API_KEY) && !logs.contains(DEV_ID));
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let (base, _) = start_fake().await;
    let mut proxy = with_fake(&format!("{base}/slow-ok"), &[]);
    let url = proxy.url.clone();
    let in_flight = tokio::spawn(async move { post(&url, "FITBIT", json!({})).await.0 });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill").args(["-TERM", &proxy.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = client().get(format!("{}/healthz", proxy.url)).send().await;
    assert!(refused.is_err(), "a new request after SIGTERM must be refused");
    assert_eq!(in_flight.await.unwrap(), 200, "the in-flight request finished");
    assert!(proxy.wait().success());
}

#[tokio::test]
async fn the_library_mounts_under_any_prefix_and_its_hook_decides_reference_id() {
    let (base, log) = start_fake().await;
    let terra = ProxyBuilder::new(format!("{base}/ok"), Credentials { dev_id: DEV_ID.into(), api_key: API_KEY.into() })
        .allowed_resources(vec!["FITBIT".into()])
        .reference_id(|parts| {
            let user = parts.headers.get("x-app-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
            async move { user.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")) }
        })
        .build();
    let app = axum::Router::new().nest("/backend/wearables", terra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/backend/wearables/auth/authenticateUser?resource=FITBIT");

    let signed_in = client()
        .post(&url)
        .header("x-app-user", "alice")
        .json(&json!({ "reference_id": "mallory" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    assert_eq!(log.lock().unwrap()[0].body, json!({ "reference_id": "alice" }), "the browser's claim is ignored");

    let anonymous = client().post(&url).json(&json!({ "reference_id": "alice" })).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.json::<Value>().await.unwrap()["code"], "not_signed_in");
    assert_eq!(log.lock().unwrap().len(), 1, "nothing forwarded for an anonymous request");
}
