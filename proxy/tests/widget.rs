//! Widget sessions through the binary and its sandbox: Terra's hosted picker, the current and
//! the legacy API, expiry, and the same validation as single-provider sessions.

mod common;

use std::time::Duration;

use common::{client, ProxyProcess};
use serde_json::{json, Value};

async fn create(proxy: &ProxyProcess, body: Value) -> (u16, Value) {
    let response = client().post(format!("{}/api/terra/widget/session", proxy.url)).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn body() -> Value {
    json!({
        "providers": "GARMIN,OURA",
        "reference_id": "user-9",
        "auth_success_redirect_url": "http://127.0.0.1:9/done.html?tc_outcome=success",
        "auth_failure_redirect_url": "http://127.0.0.1:9/failed.html?tc_outcome=failure",
    })
}

/// Opens the widget, picks `provider`, allows; returns the final redirect.
async fn pick_and_allow(url: &str, provider: &str) -> String {
    let page = client().get(url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-provider=\"GARMIN\"") && page.contains("data-provider=\"OURA\""), "{page}");
    let picked = client().post(url).form(&[("provider", provider)]).send().await.unwrap();
    assert_eq!(picked.status(), 303);
    let consent =
        format!("{}{}", url.split("/widget/").next().unwrap(), picked.headers()["location"].to_str().unwrap());
    let page = client().get(&consent).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("Connect {provider} (sandbox)")));
    let decided = client().post(&consent).form(&[("decision", "allow")]).send().await.unwrap();
    decided.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_widget_offers_the_providers_and_returns_the_one_picked() {
    for api in ["current", "legacy"] {
        let proxy = ProxyProcess::start(&[("TERRA_CONNECT_WIDGET_API", api)]);
        let (status, session) = create(&proxy, body()).await;
        assert_eq!(status, 200, "{api}: {session}");
        assert_eq!(session["status"], "success");
        assert_eq!(session["expires_in"], 900);
        assert!(session["session_id"].as_str().is_some_and(|s| s.len() == 36));
        let location = pick_and_allow(session["url"].as_str().unwrap(), "OURA").await;
        assert!(
            location.starts_with("http://127.0.0.1:9/done.html?tc_outcome=success&user_id=")
                && location.ends_with("&resource=OURA&reference_id=user-9"),
            "{api}: {location}"
        );
    }
}

#[tokio::test]
async fn an_expired_widget_session_shows_an_error() {
    let proxy = ProxyProcess::start(&[("TERRA_SANDBOX_WIDGET_TTL_SECS", "1")]);
    let (_, session) = create(&proxy, body()).await;
    assert_eq!(session["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let url = session["url"].as_str().unwrap();
    let page = client().get(url).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let picked = client().post(url).form(&[("provider", "OURA")]).send().await.unwrap();
    assert_eq!(picked.status(), 410);
}

#[tokio::test]
async fn widget_requests_get_the_same_checks() {
    let proxy = ProxyProcess::start(&[]);
    let mut cases = vec![
        (json!({"providers": ""}), 400, "invalid_request"),
        (json!({"providers": "GARMIN,,OURA"}), 400, "invalid_resource"),
        (json!({"providers": ["GARMIN"]}), 400, "invalid_request"),
        (json!({"providers": "GARMIN,NOSUCHWATCH"}), 403, "resource_not_allowed"),
        (
            json!({"providers": "GARMIN", "auth_success_redirect_url": "http://evil.example/"}),
            403,
            "redirect_not_allowed",
        ),
    ];
    for (body, status, code) in cases.drain(..) {
        let (got, answer) = create(&proxy, body.clone()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body}");
    }
    let form = client()
        .post(format!("{}/api/terra/widget/session", proxy.url))
        .form(&[("providers", "GARMIN")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
}
