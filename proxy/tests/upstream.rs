//! The proxy binary against a fake Terra on loopback: what is forwarded, and how each
//! upstream fault is answered. Terra's behaviour is chosen by the base URL's first segment.

mod common;

use std::time::{Duration, Instant};

use common::{client, start_fake, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};

fn proxy_for(base: &str) -> ProxyProcess {
    ProxyProcess::start(&[
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", base),
        ("TERRA_CONNECT_UPSTREAM_TIMEOUT_MS", "500"),
    ])
}

async fn post_session(proxy: &ProxyProcess) -> (u16, String) {
    let response = client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource=FITBIT", proxy.url))
        .header("cookie", "session=browser-secret")
        .header("authorization", "Bearer browser-token")
        .header("x-api-key", "browser-supplied-key")
        .json(&json!({
            "reference_id": "user-42",
            "auth_success_redirect_url": "https://app.example/done?tc_outcome=success",
            "language": "en",
            "dev_id": "attacker",
            "providers": "ALL"
        }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(API_KEY), "API key leaked: {text}");
    assert!(!text.contains(DEV_ID), "dev id leaked: {text}");
}

#[tokio::test]
async fn forwards_credentials_resource_and_only_known_fields() {
    let (base, log) = start_fake().await;
    let proxy = proxy_for(&format!("{base}/ok"));
    let (status, body) = post_session(&proxy).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status":"success","user_id":"u-1","auth_url":"https://provider.example/login"})
    );
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.query.as_deref(), Some("resource=FITBIT"));
    let header =
        |name: &str| seen.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    assert_eq!(header("dev-id"), [DEV_ID]);
    assert_eq!(header("x-api-key"), [API_KEY]);
    assert_eq!(header("content-type"), ["application/json"]);
    assert!(header("cookie").is_empty() && header("authorization").is_empty());
    assert_eq!(
        seen.body,
        json!({"reference_id":"user-42","auth_success_redirect_url":"https://app.example/done?tc_outcome=success","language":"en"})
    );
    assert_no_secret(&body);
    assert_no_secret(&proxy.logs());
}

#[tokio::test]
async fn maps_every_upstream_fault() {
    let (base, log) = start_fake().await;
    let cases = [
        ("500", 502, "upstream_error", None),
        ("garbage", 502, "upstream_error", None),
        ("incomplete", 502, "upstream_error", None),
        ("400", 400, "upstream_rejected", Some("language is not supported")),
        ("404", 404, "upstream_rejected", Some("Invalid resource")),
        // Terra refusing the proxy's own credentials is the operator's problem: a generic 502.
        ("401", 502, "upstream_auth", Some("the proxy could not authenticate with Terra")),
        ("problem", 422, "upstream_rejected", Some("reference_id too long")),
    ];
    for (mode, want_status, want_code, want_message) in cases {
        let proxy = proxy_for(&format!("{base}/{mode}"));
        let (status, body) = post_session(&proxy).await;
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, json["code"].as_str().unwrap()), (want_status, want_code), "{mode}: {body}");
        assert_eq!(json["status"], "error");
        if let Some(message) = want_message {
            assert_eq!(json["message"], message, "{mode}");
        }
        assert!(!body.contains("stack trace") && !body.contains("<html>"), "{mode} echoed the upstream body");
        assert_no_secret(&body);
        assert_no_secret(&proxy.logs());
    }
    assert_eq!(log.lock().unwrap().len(), cases.len(), "one upstream call per request, no retries");
}

#[tokio::test]
async fn slow_terra_is_a_504_within_the_timeout() {
    let (base, log) = start_fake().await;
    let proxy = proxy_for(&format!("{base}/slow"));
    let started = Instant::now();
    let (status, body) = post_session(&proxy).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("upstream_timeout"));
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    assert_eq!(log.lock().unwrap().len(), 1, "a POST that may have reached Terra is not retried");
}

#[tokio::test]
async fn refused_connection_is_a_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = proxy_for(&base);
    let (status, body) = post_session(&proxy).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("upstream_unreachable"));
    assert_no_secret(&body);
}

#[tokio::test]
async fn invalid_configuration_stops_start_up_naming_the_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_terra-connect-proxy"))
        .env_clear()
        .env("TERRA_DEV_ID", DEV_ID)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TERRA_API_KEY"), "{stderr}");
    assert_no_secret(&stderr);
}
