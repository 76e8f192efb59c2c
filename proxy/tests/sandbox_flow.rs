//! The proxy binary in sandbox mode, over real loopback HTTP: the whole manual-connection flow
//! and every way a browser's request can be refused.

mod common;

use common::{client, ProxyProcess};
use serde_json::{json, Value};

async fn create(proxy: &ProxyProcess, resource: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource={resource}", proxy.url))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn allow_redirects_to_the_success_url_with_terras_parameters() {
    let proxy = ProxyProcess::start(&[]);
    let response = create(
        &proxy,
        "FITBIT",
        json!({
            "reference_id": "user 42",
            "auth_success_redirect_url": "http://127.0.0.1:9/done.html?auth=success&tc_outcome=success",
            "auth_failure_redirect_url": "http://127.0.0.1:9/failed.html?tc_outcome=failure",
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["status"], "success");
    let user_id = session["user_id"].as_str().unwrap().to_owned();
    assert_eq!(user_id.len(), 36, "a UUID");
    let auth_url = session["auth_url"].as_str().unwrap();

    let page = client().get(auth_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("cross-origin-opener-policy").is_none());
    assert!(page.text().await.unwrap().contains("Connect FITBIT (sandbox)"));

    let decided = client().post(auth_url).form(&[("decision", "allow")]).send().await.unwrap();
    assert_eq!(decided.status(), 303);
    let location = decided.headers()["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!(
            "http://127.0.0.1:9/done.html?auth=success&tc_outcome=success&user_id={user_id}&resource=FITBIT&reference_id=user+42"
        )
    );

    // A session is decided once.
    let again = client().post(auth_url).form(&[("decision", "allow")]).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn deny_redirects_to_the_failure_url_and_reference_id_defaults_to_null() {
    let proxy = ProxyProcess::start(&[]);
    let session: Value = create(
        &proxy,
        "oura",
        json!({ "auth_failure_redirect_url": "http://localhost:9/failed.html?tc_outcome=failure" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let auth_url = session["auth_url"].as_str().unwrap();
    let decided = client().post(auth_url).form(&[("decision", "deny")]).send().await.unwrap();
    assert_eq!(decided.status(), 303);
    assert_eq!(
        decided.headers()["location"],
        "http://localhost:9/failed.html?tc_outcome=failure&resource=OURA&reference_id=null"
    );
}

#[tokio::test]
async fn coop_switch_serves_the_consent_page_with_coop() {
    let proxy = ProxyProcess::start(&[("TERRA_SANDBOX_COOP", "1")]);
    let session: Value = create(&proxy, "GARMIN", json!({})).await.json().await.unwrap();
    let page = client().get(session["auth_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
}

#[tokio::test]
async fn resources_outside_terras_live_list_are_refused_before_forwarding() {
    let proxy = ProxyProcess::start(&[]);
    let response = create(&proxy, "NOSUCHWATCH", json!({})).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "resource_not_allowed");
    // Providers on the sandbox's /integrations list still work.
    assert_eq!(create(&proxy, "GOOGLE_HEALTH", json!({})).await.status(), 200);
}

#[tokio::test]
async fn with_a_configured_list_unknown_resources_reach_terra_and_get_its_404() {
    let proxy = ProxyProcess::start(&[("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT,NOSUCHWATCH")]);
    let response = create(&proxy, "NOSUCHWATCH", json!({})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status":"error","code":"upstream_rejected","message":"Invalid resource: NOSUCHWATCH"}));
    assert_eq!(create(&proxy, "OURA", json!({})).await.status(), 403, "not on the configured list");
}

#[tokio::test]
async fn bad_requests_are_refused_with_json_errors() {
    let proxy = ProxyProcess::start(&[]);
    let url = |q: &str| format!("{}/api/terra/auth/authenticateUser{q}", proxy.url);
    let json_post = |q: &str, body: &str| {
        client().post(url(q)).header("content-type", "application/json").body(body.to_owned()).send()
    };
    let cases = [
        (json_post("", "{}").await.unwrap(), 400, "invalid_resource"),
        (json_post("?resource=FIT%20BIT", "{}").await.unwrap(), 400, "invalid_resource"),
        (json_post("?resource=FITBIT", "{not json").await.unwrap(), 400, "invalid_request"),
        (json_post("?resource=FITBIT", r#"{"reference_id":7}"#).await.unwrap(), 400, "invalid_request"),
        (
            json_post("?resource=FITBIT", r#"{"auth_success_redirect_url":"https://u:p@app.example/"}"#).await.unwrap(),
            403,
            "redirect_not_allowed",
        ),
        (
            json_post("?resource=FITBIT", r#"{"auth_success_redirect_url":"http://app.example/"}"#).await.unwrap(),
            403,
            "redirect_not_allowed",
        ),
        (
            json_post("?resource=FITBIT", &format!(r#"{{"language":"{}"}}"#, "x".repeat(20_000))).await.unwrap(),
            413,
            "body_too_large",
        ),
        (
            client().post(url("?resource=FITBIT")).form(&[("reference_id", "x")]).send().await.unwrap(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!((body["status"].as_str(), body["code"].as_str()), (Some("error"), Some(code)));
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn healthz_answers() {
    let proxy = ProxyProcess::start(&[]);
    let health: Value = client().get(format!("{}/healthz", proxy.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status":"ok","mode":"sandbox"}));
    assert!(proxy.logs().contains("SANDBOX MODE"));
}
