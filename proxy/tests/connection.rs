//! Verified connections: `GET /connection` confirms a user id with Terra (the sandbox) only for
//! the user it belongs to; every other case is the same 404.

mod common;

use axum::http::StatusCode;
use common::{client, create_session, decide, ProxyProcess};
use serde_json::{json, Value};
use terra_connect_proxy::{ApiError, ProxyBuilder};

/// Creates a session for `reference_id` and decides it; returns the user id.
async fn connect(api: &str, reference_id: &str, decision: &str) -> String {
    let session = create_session(api, "FITBIT", json!({ "reference_id": reference_id })).await;
    if !decision.is_empty() {
        decide(&session, decision).await;
    }
    session["user_id"].as_str().unwrap().to_owned()
}

async fn lookup(url: String) -> (u16, Value) {
    let response = client().get(url).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn confirms_only_the_owner_of_a_connected_user() {
    let proxy = ProxyProcess::start(&[]);
    let api = format!("{}/api/terra", proxy.url);
    let alice = connect(&api, "alice", "allow").await;
    let (status, body) = lookup(format!("{api}/connection?user_id={alice}&reference_id=alice")).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "user_id": alice, "provider": "FITBIT", "reference_id": "alice", "active": true }));

    let pending = connect(&api, "carol", "").await;
    let denied = connect(&api, "dave", "deny").await;
    let not_found = json!({ "status": "error", "code": "not_found", "message": "no such connection" });
    for url in [
        format!("{api}/connection?user_id={alice}&reference_id=mallory"),
        format!("{api}/connection?user_id=00000000-0000-4000-8000-000000000000&reference_id=alice"),
        format!("{api}/connection?user_id={pending}&reference_id=carol"),
        format!("{api}/connection?user_id={denied}&reference_id=dave"),
    ] {
        assert_eq!(lookup(url.clone()).await, (404, not_found.clone()), "{url}");
    }
    // No reference id and no hook: nobody to match the user to, whoever the user is.
    for user in [alice.as_str(), "00000000-0000-4000-8000-000000000000"] {
        let (status, body) = lookup(format!("{api}/connection?user_id={user}")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("reference_id_required")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("referenceId"), "{body}");
    }
    assert_eq!(lookup(format!("{api}/connection")).await.0, 400);
    assert_eq!(lookup(format!("{api}/connection?user_id=a%20b")).await.0, 400);
}

#[tokio::test]
async fn with_a_hook_the_apps_session_decides_whose_user_it_is() {
    // The sandbox behind the library router, with a hook reading the app's own header.
    let sandbox = terra_connect_proxy::sandbox::spawn(false, None).await.unwrap();
    let terra = ProxyBuilder::new(sandbox.api_base.clone(), sandbox.credentials.clone())
        .allowed_resources(vec!["FITBIT".into()])
        .reference_id(|parts| {
            let user = parts.headers.get("x-app-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
            async move { user.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "not_signed_in", "sign in first")) }
        })
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().nest("/t", terra)).await.unwrap() });

    let created: Value = client()
        .post(format!("http://{addr}/t/auth/authenticateUser?resource=FITBIT"))
        .header("x-app-user", "alice")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client().post(created["auth_url"].as_str().unwrap()).form(&[("decision", "allow")]).send().await.unwrap();
    let user_id = created["user_id"].as_str().unwrap();
    let check = |who: &'static str| {
        client()
            .get(format!("http://{addr}/t/connection?user_id={user_id}&reference_id=alice"))
            .header("x-app-user", who)
            .send()
    };
    assert_eq!(check("alice").await.unwrap().status(), 200);
    assert_eq!(check("bob").await.unwrap().status(), 404, "the browser's reference_id claim is not used");
}
