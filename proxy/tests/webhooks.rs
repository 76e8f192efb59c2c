//! Signed webhooks through the real binary: good, bad, missing, stale, replayed and altered
//! signatures, a test vector computed by openssl, and the sandbox's own webhooks.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{client, create_session, decide, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};
use terra_connect_proxy::webhook::signature_header;

const SECRET: &str = "whsec_3c1b9f0e";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn proxy() -> ProxyProcess {
    ProxyProcess::start(&[
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", "http://127.0.0.1:9/api/v2"),
        ("TERRA_WEBHOOK_SECRET", SECRET),
    ])
}

async fn deliver(proxy: &ProxyProcess, signature: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut request = client()
        .post(format!("{}/api/terra/webhook", proxy.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("terra-signature", signature);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn logs_contain(proxy: &ProxyProcess, needle: &str) -> bool {
    for _ in 0..50 {
        if proxy.logs().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn only_fresh_correctly_signed_events_are_accepted_once() {
    let proxy = proxy();
    let body = json!({"type":"auth","status":"success","reference_id":"u42",
        "user":{"user_id":"ae53-webhook","provider":"FITBIT","reference_id":"u42"}})
    .to_string();
    let body = body.as_bytes();
    let good = signature_header(SECRET.as_bytes(), now(), body);

    assert_eq!(deliver(&proxy, Some(&good), body).await.0, 200);
    assert!(logs_contain(&proxy, "webhook: auth success").await);
    assert!(proxy.logs().contains("ae53-webhook"));

    // The same delivery again (Terra's retry, or a replay): 2xx, not handed on twice.
    let (status, answer) = deliver(&proxy, Some(&good), body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("duplicate")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.logs().matches("webhook: auth success").count(), 1, "processed once");

    let mut altered = body.to_vec();
    let at = altered.iter().position(|&b| b == b'5').unwrap();
    altered[at] = b'6';
    let fresh = signature_header(SECRET.as_bytes(), now(), body);
    let cases: Vec<(Option<String>, Vec<u8>, &str)> = vec![
        (Some(fresh.clone()), altered, "body altered by one byte"),
        (None, body.to_vec(), "missing"),
        (Some(signature_header(b"wrong-secret", now(), body)), body.to_vec(), "bad"),
        (Some(signature_header(SECRET.as_bytes(), now() - 301, body)), body.to_vec(), "stale"),
        (Some("t=1,v1=nothex".into()), body.to_vec(), "malformed"),
    ];
    for (signature, body, case) in cases {
        let (status, answer) = deliver(&proxy, signature.as_deref(), &body).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("invalid_signature")), "{case}");
    }
    assert!(!proxy.logs().contains(SECRET), "the secret is never logged");
}

#[tokio::test]
async fn an_openssl_computed_signature_is_accepted() {
    let proxy = proxy();
    let t = now();
    let body = r#"{"type":"auth_cancelled","status":"error","reason":"user_denied","reference_id":"u7"}"#;
    let output = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(format!("{t}.{body}").as_bytes())?;
            child.wait_with_output()
        })
        .expect("openssl runs");
    let hex = String::from_utf8(output.stdout).unwrap().trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(hex.len(), 64);
    assert_eq!(format!("t={t},v1={hex}"), signature_header(SECRET.as_bytes(), t, body.as_bytes()));
    assert_eq!(deliver(&proxy, Some(&format!("t={t},v1={hex}")), body.as_bytes()).await.0, 200);
    assert!(logs_contain(&proxy, "webhook: auth failed").await);
}

#[tokio::test]
async fn unknown_event_types_are_accepted() {
    let proxy = proxy();
    let body = br#"{"type":"activity","data":[{"calories":120}]}"#;
    let signature = signature_header(SECRET.as_bytes(), now(), body);
    assert_eq!(deliver(&proxy, Some(&signature), body).await.0, 200);
    assert!(logs_contain(&proxy, "webhook: other event").await);
}

#[tokio::test]
async fn the_sandbox_sends_signed_webhooks_on_allow_and_deny() {
    let proxy = ProxyProcess::start(&[]);
    for (decision, expected) in [("allow", "webhook: auth success"), ("deny", "webhook: auth failed")] {
        let api = format!("{}/api/terra", proxy.url);
        let session = create_session(&api, "OURA", json!({ "reference_id": format!("sandbox-{decision}") })).await;
        decide(&session, decision).await;
        assert!(logs_contain(&proxy, expected).await, "{decision}: {}", proxy.logs());
        assert!(proxy.logs().contains(&format!("sandbox-{decision}")));
        if decision == "allow" {
            assert!(proxy.logs().contains(session["user_id"].as_str().unwrap()));
        }
    }
}

#[tokio::test]
async fn a_browser_can_wait_for_the_signed_auth_event_of_its_own_user() {
    let proxy = ProxyProcess::start(&[]);
    let api = format!("{}/api/terra", proxy.url);
    let session = create_session(&api, "OURA", json!({ "reference_id": "waiter" })).await;
    let user_id = session["user_id"].as_str().unwrap().to_owned();
    let wait = |reference: &'static str, wait_ms: u32| {
        client()
            .get(format!("{api}/connection/webhook?user_id={user_id}&reference_id={reference}&wait_ms={wait_ms}"))
            .send()
    };
    // Nothing arrived yet: a short wait ends in 404.
    assert_eq!(wait("waiter", 200).await.unwrap().status(), 404);
    // A long poll started before the person allows is answered when the webhook arrives.
    let waiting = tokio::spawn(wait("waiter", 10_000));
    tokio::time::sleep(Duration::from_millis(200)).await;
    decide(&session, "allow").await;
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({ "user_id": user_id, "provider": "OURA", "reference_id": "waiter", "source": "webhook" }));
    assert_eq!(wait("someone-else", 0).await.unwrap().status(), 404, "only for its owner");
}

#[tokio::test]
async fn without_a_webhook_secret_waiting_is_unavailable() {
    let proxy = ProxyProcess::start(&[
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", "http://127.0.0.1:9/api/v2"),
    ]);
    let response = client()
        .get(format!("{}/api/terra/connection/webhook?user_id=u&reference_id=r", proxy.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "webhooks_not_configured");
}
