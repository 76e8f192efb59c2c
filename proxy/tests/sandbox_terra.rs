//! The sandbox as Terra, over real loopback HTTP: `userInfo` by user id and by reference id,
//! `deauthenticateUser` and its signed `deauth` webhook, `integrations/detailed` and the icons
//! it serves itself, bad credentials, bounds; and the binary's `TERRA_SANDBOX_*` settings.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::{client, ProxyProcess};
use serde_json::{json, Value};
use terra_connect_proxy::sandbox::{self, SandboxHandle, SandboxOptions, WebhookTarget, MAX_USERS_PER_REFERENCE};
use terra_connect_proxy::Credentials;

const DEV_ID: &str = "sandbox-test-dev";
const API_KEY: &str = "sandbox-test-KEY-91b2";
const SECRET: &str = "sandbox-test-signing-secret";

/// What a webhook receiver got: (headers, raw body) of each delivery.
type Deliveries = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on a free loopback port: its URL and what it received.
async fn receiver() -> (String, Deliveries) {
    let deliveries = Deliveries::default();
    let app = Router::new()
        .route(
            "/hook",
            post(|State(d): State<Deliveries>, headers: HeaderMap, body: String| async move {
                d.lock().unwrap().push((headers, body));
                "ok"
            }),
        )
        .with_state(deliveries.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), deliveries)
}

/// Waits (at most 5 s) for a delivery of event `kind`; checks both signature headers.
async fn delivery(deliveries: &Deliveries, kind: &str) -> Value {
    for _ in 0..100 {
        let found = deliveries.lock().unwrap().iter().find_map(|(headers, body)| {
            let event: Value = serde_json::from_str(body).ok()?;
            (event["type"] == kind).then(|| (headers.clone(), body.clone(), event))
        });
        if let Some((headers, body, event)) = found {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let signature = header("x-terra-signature");
            assert_eq!(signature, header("terra-signature"), "both signature headers carry the signature");
            let (t, v1) = signature.split_once(',').unwrap();
            let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            assert!((now - t).abs() < 60, "a current timestamp");
            let want = terra_connect_proxy::webhook::sign(SECRET.as_bytes(), t, body.as_bytes());
            assert_eq!(v1.strip_prefix("v1=").unwrap(), want, "signed with the secret over t.body");
            return event;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} webhook arrived");
}

async fn start(webhook: Option<String>) -> SandboxHandle {
    sandbox::spawn_with(SandboxOptions {
        webhook: webhook.map(|url| WebhookTarget { url, secret: SECRET.as_bytes().to_vec() }),
        credentials: Some(Credentials { dev_id: DEV_ID.into(), api_key: API_KEY.into() }),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

/// A request with the sandbox's credentials.
fn authed(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("dev-id", DEV_ID).header("x-api-key", API_KEY)
}

async fn create(sandbox: &SandboxHandle, resource: &str, reference_id: Option<&str>) -> Value {
    let response = authed(client().post(format!("{}/auth/authenticateUser?resource={resource}", sandbox.api_base)))
        .json(&json!({ "reference_id": reference_id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn allow(session: &Value) {
    let response = common::decide(session, "allow").await;
    assert!(response.status().is_success(), "{}", response.status());
}

async fn get(sandbox: &SandboxHandle, path_and_query: &str) -> (u16, Value) {
    let response = authed(client().get(format!("{}{path_and_query}", sandbox.api_base))).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn ids(users: &Value) -> Vec<String> {
    users.as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_owned()).collect()
}

const USER_KEYS: [&str; 7] =
    ["user_id", "provider", "reference_id", "active", "created_at", "last_webhook_update", "scopes"];

#[tokio::test]
async fn user_info_by_user_id_before_and_after_consent_and_by_reference_id() {
    let (hook, deliveries) = receiver().await;
    let sandbox = start(Some(hook)).await;
    let first = create(&sandbox, "OURA", Some("person-1")).await;
    let second = create(&sandbox, "GARMIN", Some("person-1")).await;
    let other = create(&sandbox, "FITBIT", None).await;
    let user_id = first["user_id"].as_str().unwrap();

    let (status, info) = get(&sandbox, &format!("/userInfo?user_id={user_id}")).await;
    assert_eq!(status, 200);
    assert_eq!((info["status"].as_str(), info["is_authenticated"].as_bool()), (Some("success"), Some(false)));
    let user = info["user"].as_object().unwrap();
    assert_eq!(user.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), USER_KEYS.into());
    assert_eq!((user["user_id"].as_str(), user["provider"].as_str()), (Some(user_id), Some("OURA")));
    assert_eq!(user["reference_id"], "person-1");
    assert_eq!(user["active"], Value::Null, "not active before the person allowed");
    assert!(user["created_at"].as_str().unwrap().starts_with("20"));

    allow(&first).await;
    let (status, info) = get(&sandbox, &format!("/userInfo?user_id={user_id}")).await;
    assert_eq!(status, 200);
    assert_eq!((info["is_authenticated"].as_bool(), info["user"]["active"].as_bool()), (Some(true), Some(true)));
    assert!(info["user"]["last_webhook_update"].is_string(), "an auth event went out");
    let auth = delivery(&deliveries, "auth").await;
    assert_eq!(auth["user"]["user_id"], user_id);
    assert_eq!(auth["user"]["active"], true);

    let (status, users) = get(&sandbox, "/userInfo?reference_id=person-1").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&users), [user_id, second["user_id"].as_str().unwrap()], "a bare array, oldest first");
    assert!(users[0].get("is_authenticated").is_none() && users[0]["active"] == true);
    assert_eq!(users[1]["active"], Value::Null);
    let (status, users) = get(&sandbox, "/userInfo?reference_id=nobody").await;
    assert_eq!((status, users), (200, json!([])));

    let (status, error) = get(&sandbox, "/userInfo").await;
    assert_eq!((status, error["status"].as_str()), (400, Some("error")));
    let (status, _) = get(&sandbox, "/userInfo?user_id=&reference_id=").await;
    assert_eq!(status, 400);
    let (status, error) = get(&sandbox, "/userInfo?user_id=00000000-0000-0000-0000-000000000000").await;
    assert_eq!((status, error["status"].as_str()), (404, Some("error")));
    assert_eq!(get(&sandbox, &format!("/userInfo?user_id={}", other["user_id"].as_str().unwrap())).await.0, 200);

    for (dev_id, api_key) in [(DEV_ID, "wrong"), ("wrong", API_KEY)] {
        for query in [format!("user_id={user_id}"), "reference_id=person-1".to_owned()] {
            let response = client()
                .get(format!("{}/userInfo?{query}", sandbox.api_base))
                .header("dev-id", dev_id)
                .header("x-api-key", api_key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401);
        }
    }
    let response = client().get(format!("{}/userInfo?user_id={user_id}", sandbox.api_base)).send().await.unwrap();
    assert_eq!(response.status(), 401, "no credentials");
}

#[tokio::test]
async fn deauthenticate_user_forgets_the_user_and_sends_a_signed_deauth_event() {
    let (hook, deliveries) = receiver().await;
    let sandbox = start(Some(hook)).await;
    let session = create(&sandbox, "WITHINGS", Some("person-2")).await;
    let kept = create(&sandbox, "POLAR", Some("person-2")).await;
    allow(&session).await;
    let user_id = session["user_id"].as_str().unwrap();
    let deauth = |user_id: String, credentials: (&'static str, &'static str)| {
        let url = format!("{}/auth/deauthenticateUser?user_id={user_id}", sandbox.api_base);
        async move {
            let response =
                client().delete(url).header("dev-id", credentials.0).header("x-api-key", credentials.1).send().await;
            let response = response.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    assert_eq!(deauth(user_id.into(), (DEV_ID, "wrong")).await.0, 401);
    assert_eq!(get(&sandbox, &format!("/userInfo?user_id={user_id}")).await.0, 200, "a refused call changes nothing");
    assert_eq!(deauth(String::new(), (DEV_ID, API_KEY)).await.0, 400);
    let (status, answer) = deauth(user_id.into(), (DEV_ID, API_KEY)).await;
    assert_eq!((status, answer), (200, json!({"status": "success"})));

    assert_eq!(get(&sandbox, &format!("/userInfo?user_id={user_id}")).await.0, 404);
    let (_, users) = get(&sandbox, "/userInfo?reference_id=person-2").await;
    assert_eq!(ids(&users), [kept["user_id"].as_str().unwrap()]);
    let (status, error) = deauth(user_id.into(), (DEV_ID, API_KEY)).await;
    assert_eq!((status, error["status"].as_str()), (404, Some("error")), "already gone");

    let event = delivery(&deliveries, "deauth").await;
    assert_eq!(event["status"], "success");
    assert!(event["message"].is_string());
    assert_eq!(
        (event["user"]["user_id"].as_str(), event["user"]["provider"].as_str()),
        (Some(user_id), Some("WITHINGS"))
    );
    assert_eq!(event["user"]["reference_id"], "person-2");
    // A pending user can be deauthenticated too.
    let (status, _) = deauth(kept["user_id"].as_str().unwrap().into(), (DEV_ID, API_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(get(&sandbox, "/userInfo?reference_id=person-2").await.1, json!([]));
}

#[tokio::test]
async fn deauthenticate_user_without_a_webhook_target_still_answers() {
    let sandbox = start(None).await;
    let session = create(&sandbox, "COROS", None).await;
    let url = format!("{}/auth/deauthenticateUser?user_id={}", sandbox.api_base, session["user_id"].as_str().unwrap());
    assert_eq!(authed(client().delete(url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn integrations_detailed_with_names_and_icons_the_sandbox_serves() {
    let sandbox = start(None).await;
    let detailed = |query: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let mut request = client().get(format!("{}/integrations/detailed{query}", sandbox.api_base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = detailed("", &[]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("success")), "no credentials needed");
    let providers = body["providers"].as_array().unwrap();
    let names: Vec<(&str, &str)> =
        providers.iter().map(|p| (p["provider"].as_str().unwrap(), p["name"].as_str().unwrap())).collect();
    assert_eq!(
        names,
        [
            ("FITBIT", "Fitbit"),
            ("GARMIN", "Garmin"),
            ("OURA", "Oura"),
            ("WITHINGS", "Withings"),
            ("POLAR", "Polar"),
            ("SUUNTO", "Suunto"),
            ("COROS", "COROS"),
            ("WAHOO", "Wahoo"),
            ("PELOTON", "Peloton"),
            ("EIGHTSLEEP", "Eight Sleep"),
            ("DEXCOM", "Dexcom"),
            ("FREESTYLELIBRE", "FreeStyle Libre"),
            ("GOOGLE", "Google Fit"),
            ("GOOGLE_HEALTH", "Google Health"),
            ("STRAVA", "Strava"),
        ]
    );
    let origin = sandbox.api_base.trim_end_matches(sandbox::API_PREFIX);
    for p in providers {
        assert_eq!(p["enabled"], true);
        assert!(p["setup"].is_string() && p["types"]["activity"].is_boolean(), "{p}");
        let icon = p["icon"].as_str().unwrap();
        assert_eq!(icon, format!("{origin}/icons/{}.svg", p["provider"].as_str().unwrap()));
        let response = client().get(icon).send().await.unwrap();
        assert_eq!(response.status(), 200, "{icon}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        let svg = response.text().await.unwrap();
        assert!(svg.starts_with("<svg") && svg.contains(p["name"].as_str().unwrap()), "{svg}");
    }
    assert_eq!(client().get(format!("{origin}/icons/NOPE.svg")).send().await.unwrap().status(), 404);
    assert_eq!(client().get(format!("{origin}/icons/FITBIT.png")).send().await.unwrap().status(), 404);

    assert_eq!(detailed("", &[("dev-id", DEV_ID)]).await.0, 200, "dev-id alone picks the account's list");
    assert_eq!(detailed("", &[("dev-id", DEV_ID), ("x-api-key", API_KEY)]).await.0, 200);
    assert_eq!(detailed("", &[("dev-id", "someone-else")]).await.0, 401);
    assert_eq!(detailed("", &[("dev-id", DEV_ID), ("x-api-key", "wrong")]).await.0, 401);
    assert_eq!(detailed("?sdk=true", &[("x-api-key", "wrong")]).await.0, 401);

    let (_, with_sdk) = detailed("?sdk=true", &[("dev-id", DEV_ID), ("x-api-key", API_KEY)]).await;
    let extra: Vec<&str> =
        with_sdk["providers"].as_array().unwrap()[15..].iter().map(|p| p["provider"].as_str().unwrap()).collect();
    assert_eq!(extra, ["APPLE", "SAMSUNG", "HEALTH_CONNECT"]);
    assert_eq!(detailed("?sdk=false", &[]).await.1["providers"].as_array().unwrap().len(), 15);
}

#[tokio::test]
async fn the_older_v2_base_answers_the_same_api() {
    let sandbox = start(None).await;
    let origin = sandbox.api_base.trim_end_matches(sandbox::API_PREFIX).to_owned();
    let response = authed(client().post(format!("{origin}/v2/auth/authenticateUser?resource=STRAVA")))
        .json(&json!({"reference_id": "old-base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, users) = get(&sandbox, "/userInfo?reference_id=old-base").await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    let response = authed(client().get(format!("{origin}/v2/userInfo?reference_id=old-base"))).send().await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), users);
}

#[tokio::test]
async fn one_reference_id_lists_a_bounded_number_of_users() {
    let sandbox = start(None).await;
    let mut last = String::new();
    for _ in 0..MAX_USERS_PER_REFERENCE + 20 {
        last = create(&sandbox, "SUUNTO", Some("script")).await["user_id"].as_str().unwrap().to_owned();
    }
    let (_, users) = get(&sandbox, "/userInfo?reference_id=script").await;
    let listed = ids(&users);
    assert_eq!(listed.len(), MAX_USERS_PER_REFERENCE);
    assert_eq!(listed.last(), Some(&last), "the newest are kept");
}

#[tokio::test]
async fn the_sandbox_listens_on_loopback_only() {
    for addr in ["0.0.0.0:0", "192.0.2.1:0"] {
        let options = SandboxOptions { addr: addr.parse().unwrap(), ..SandboxOptions::default() };
        let error = sandbox::spawn_with(options).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{addr}");
    }
    let sandbox =
        sandbox::spawn_with(SandboxOptions { addr: "[::1]:0".parse().unwrap(), ..SandboxOptions::default() }).await;
    if let Ok(sandbox) = sandbox {
        // IPv6 loopback, where the machine has it.
        assert!(sandbox.api_base.starts_with("http://[::1]:"), "{}", sandbox.api_base);
    }
}

/// Waits (at most 5 s) for the binary's "sandbox API: URL" log line; the URL.
async fn logged_api_base(proxy: &ProxyProcess) -> String {
    assert!(proxy.wait_for_log("sandbox API: ").await, "{}", proxy.logs());
    let logs = proxy.logs();
    let rest = logs.split("sandbox API: ").nth(1).unwrap();
    rest.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn the_binary_runs_the_sandbox_with_the_given_settings() {
    let (hook, deliveries) = receiver().await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let proxy = ProxyProcess::start(&[
        ("TERRA_SANDBOX_ADDR", &addr),
        ("TERRA_SANDBOX_DEV_ID", DEV_ID),
        ("TERRA_SANDBOX_API_KEY", API_KEY),
        ("TERRA_SANDBOX_WEBHOOK_URL", &hook),
        ("TERRA_WEBHOOK_SECRET", SECRET),
    ]);
    let api_base = logged_api_base(&proxy).await;
    assert_eq!(api_base, format!("http://{addr}/api/v2"));

    // The proxy's own routes go to that sandbox, and so can a backend with the credentials.
    let session =
        common::create_session(&format!("{}/api/terra", proxy.url), "OURA", json!({"reference_id": "bin"})).await;
    let user_id = session["user_id"].as_str().unwrap();
    assert!(session["auth_url"].as_str().unwrap().starts_with(&format!("http://{addr}/consent/")));
    allow(&session).await;
    let auth = delivery(&deliveries, "auth").await;
    assert_eq!(auth["user"]["user_id"], user_id);
    let info: Value = authed(client().get(format!("{api_base}/userInfo?user_id={user_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["is_authenticated"], true);
    let response =
        authed(client().delete(format!("{api_base}/auth/deauthenticateUser?user_id={user_id}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(delivery(&deliveries, "deauth").await["user"]["user_id"], user_id);

    let logs = proxy.logs();
    assert!(!logs.contains(API_KEY) && !logs.contains(DEV_ID), "credentials never logged");
}

#[tokio::test]
async fn the_binary_sends_sandbox_webhooks_to_its_own_route_by_default() {
    let proxy = ProxyProcess::start(&[("TERRA_WEBHOOK_SECRET", SECRET)]);
    let api_base = logged_api_base(&proxy).await;
    assert!(api_base.starts_with("http://127.0.0.1:") && api_base.ends_with("/api/v2"), "{api_base}");
    let session = common::create_session(&format!("{}/api/terra", proxy.url), "DEXCOM", json!({})).await;
    allow(&session).await;
    assert!(proxy.wait_for_log("webhook: auth success").await, "{}", proxy.logs());
}

#[test]
fn the_binary_refuses_a_sandbox_address_off_loopback() {
    for (variable, value) in [
        ("TERRA_SANDBOX_ADDR", "0.0.0.0:8788"),
        ("TERRA_SANDBOX_ADDR", "nowhere"),
        ("TERRA_SANDBOX_WEBHOOK_URL", "not a url"),
        ("TERRA_SANDBOX_API_KEY", "has spaces in it"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_terra-connect-proxy"))
            .env_clear()
            .env("TERRA_CONNECT_ADDR", "127.0.0.1:0")
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains("has spaces in it"), "the value of a secret is not echoed");
    }
}
