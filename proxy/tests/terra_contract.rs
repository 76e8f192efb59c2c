//! The binary against a stand-in for Terra that behaves as TERRA_API.md says: both signature
//! headers, retries of failed deliveries, `is_authenticated`, re-auth and revocations, both
//! widget paths, and the forward of every verified event.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::standin::{self, Behaviour};
use common::{client, ProxyProcess, API_KEY, DEV_ID};
use serde_json::{json, Value};
use terra_connect_proxy::webhook::signature_header;

const SECRET: &str = "whsec_contract";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn proxy(api_base: &str, extra: &[(&str, &str)]) -> ProxyProcess {
    let mut env = vec![
        ("TERRA_DEV_ID", DEV_ID),
        ("TERRA_API_KEY", API_KEY),
        ("TERRA_API_BASE", api_base),
        ("TERRA_WEBHOOK_SECRET", SECRET),
    ];
    env.extend_from_slice(extra);
    ProxyProcess::start(&env)
}

/// POSTs `body` to the webhook with the given headers; (status, JSON).
async fn deliver(proxy: &ProxyProcess, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let mut request = client()
        .post(format!("{}/api/terra/webhook", proxy.url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn auth_event(user_id: &str, reference_id: &str) -> String {
    json!({"type":"auth","status":"success","reference_id":reference_id,
           "user":{"user_id":user_id,"provider":"OURA","reference_id":reference_id}})
    .to_string()
}

async fn waited(proxy: &ProxyProcess, user_id: &str, reference_id: &str) -> u16 {
    client()
        .get(format!("{}/api/terra/connection/webhook?user_id={user_id}&reference_id={reference_id}", proxy.url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn both_signature_header_names_are_accepted() {
    let terra = standin::start(Behaviour::default()).await;
    let proxy = proxy(&terra.api_base(), &[]);
    for (i, name) in ["X-Terra-Signature", "terra-signature"].into_iter().enumerate() {
        let body = auth_event(&format!("user-{i}"), "r");
        let signature = signature_header(SECRET.as_bytes(), now(), body.as_bytes());
        let (status, answer) = deliver(&proxy, &[(name, signature)], &body).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("ok")), "{name}");
        assert_eq!(waited(&proxy, &format!("user-{i}"), "r").await, 200, "{name}");
    }
}

#[tokio::test]
async fn a_failed_delivery_is_processed_on_terras_retry_and_a_processed_one_is_a_duplicate() {
    // The forward target fails once: the first delivery is answered non-2xx and left unprocessed.
    let terra = standin::start(Behaviour { forward_failures: 1, ..Behaviour::default() }).await;
    let forward = format!("{}/forward", terra.origin);
    let proxy = proxy(&terra.api_base(), &[("TERRA_CONNECT_WEBHOOK_FORWARD_URL", &forward)]);
    let body = auth_event("retried-user", "r");
    let signature = signature_header(SECRET.as_bytes(), now(), body.as_bytes());
    let headers = [
        ("X-Terra-Signature", signature.clone()),
        ("terra-signature", signature.clone()),
        ("X-Terra-Trace-Id", "trace-42".to_owned()),
    ];
    let (status, answer) = deliver(&proxy, &headers, &body).await;
    assert_eq!((status, answer["code"].as_str()), (502, Some("forward_failed")));
    // Terra's retry: same body, signature and trace id.
    assert_eq!(deliver(&proxy, &headers, &body).await, (200, json!({"status":"ok"})));
    assert_eq!(deliver(&proxy, &headers, &body).await, (200, json!({"status":"duplicate"})));
    assert!(proxy.wait_for_log("webhook: auth success").await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.logs().matches("webhook: auth success").count(), 1, "handed to on_event once");
    // The forward received the event unchanged, with its signature headers, each attempt.
    let forwarded = terra.to("/forward");
    assert_eq!(forwarded.len(), 2, "the failed attempt and the retry; not the duplicate");
    for f in &forwarded {
        assert_eq!(f.body, body.as_bytes());
        assert_eq!(f.headers["x-terra-signature"], signature.as_str());
        assert_eq!(f.headers["terra-signature"], signature.as_str());
        assert_eq!(f.headers["x-terra-trace-id"], "trace-42");
    }
}

#[tokio::test]
async fn a_retry_past_the_signature_window_is_processed_only_when_the_first_attempt_arrived_in_time() {
    // Terra retries with the first attempt's signature for about a day. The first attempt
    // arrives just inside the 5-minute window and fails; its retry arrives past the window.
    let terra = standin::start(Behaviour { forward_failures: 1, ..Behaviour::default() }).await;
    let forward = format!("{}/forward", terra.origin);
    let proxy = proxy(&terra.api_base(), &[("TERRA_CONNECT_WEBHOOK_FORWARD_URL", &forward)]);
    let t = now() - 299;
    let body = auth_event("late-retry-user", "r");
    let signature = signature_header_at(t, &body);
    let traced = [("X-Terra-Signature", signature.clone()), ("X-Terra-Trace-Id", "trace-late".to_owned())];
    let (status, answer) = deliver(&proxy, &traced, &body).await;
    assert_eq!((status, answer["code"].as_str()), (502, Some("forward_failed")), "in time, handling failed");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(now() - t > 300, "the retry is past the window");
    assert_eq!(deliver(&proxy, &traced, &body).await, (200, json!({"status":"ok"})), "the retry is processed");
    assert_eq!(deliver(&proxy, &traced, &body).await, (200, json!({"status":"duplicate"})), "then a duplicate");
    assert_eq!(waited(&proxy, "late-retry-user", "r").await, 200);
    // Without a trace id the signature is the key: the same holds.
    let terra = standin::start(Behaviour { forward_failures: 1, ..Behaviour::default() }).await;
    let forward = format!("{}/forward", terra.origin);
    let proxy = self::proxy(&terra.api_base(), &[("TERRA_CONNECT_WEBHOOK_FORWARD_URL", &forward)]);
    let body = auth_event("late-untraced-user", "r");
    let signature = signature_header_at(now() - 299, &body);
    let untraced = [("terra-signature", signature)];
    assert_eq!(deliver(&proxy, &untraced, &body).await.0, 502);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(deliver(&proxy, &untraced, &body).await, (200, json!({"status":"ok"})));
    // A stale delivery this proxy never saw is refused, even with a valid signature.
    let body = auth_event("never-seen-user", "r");
    let stale =
        [("X-Terra-Signature", signature_header_at(now() - 301, &body)), ("X-Terra-Trace-Id", "trace-new".into())];
    let (status, answer) = deliver(&proxy, &stale, &body).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("invalid_signature")));
    assert_eq!(waited(&proxy, "never-seen-user", "r").await, 404);
}

fn signature_header_at(t: i64, body: &str) -> String {
    signature_header(SECRET.as_bytes(), t, body.as_bytes())
}

#[tokio::test]
async fn without_a_forward_url_the_binary_says_data_events_are_dropped() {
    let terra = standin::start(Behaviour::default()).await;
    let proxy = proxy(&terra.api_base(), &[]);
    assert!(proxy.wait_for_log("TERRA_CONNECT_WEBHOOK_FORWARD_URL is not set").await, "{}", proxy.logs());
}

#[tokio::test]
async fn connection_is_confirmed_only_when_authenticated_and_active_are_exactly_true() {
    let cases = [
        (json!(true), json!(true), 200),
        (json!(false), json!(true), 404),
        (json!(null), json!(true), 404),
        (json!("true"), json!(true), 404),
        (json!(true), json!(null), 404),
        (json!(true), json!("true"), 404),
        (json!(true), json!(false), 404),
    ];
    for (is_authenticated, active, want) in cases {
        let terra = standin::start(Behaviour {
            is_authenticated: is_authenticated.clone(),
            active: active.clone(),
            ..Behaviour::default()
        })
        .await;
        let proxy = proxy(&terra.api_base(), &[]);
        let response = client()
            .get(format!("{}/api/terra/connection?user_id=u-1&reference_id=alice", proxy.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), want, "is_authenticated={is_authenticated} active={active}");
    }
}

#[tokio::test]
async fn reauth_deauth_and_access_revoked_forget_the_user() {
    let terra = standin::start(Behaviour::default()).await;
    let proxy = proxy(&terra.api_base(), &[]);
    let send = |body: String| {
        let signature = signature_header(SECRET.as_bytes(), now(), body.as_bytes());
        let proxy = &proxy;
        async move { deliver(proxy, &[("X-Terra-Signature", signature)], &body).await.0 }
    };
    for (user, revocation) in [
        (
            "old-user",
            json!({"type":"user_reauth","status":"warning","old_user":{"user_id":"old-user"},"new_user":{"user_id":"new-user"}}),
        ),
        (
            "gone-user",
            json!({"type":"deauth","status":"success","message":"deauthenticated","user":{"user_id":"gone-user"}}),
        ),
        ("revoked-user", json!({"type":"access_revoked","status":"warning","user":{"user_id":"revoked-user"}})),
    ] {
        assert_eq!(send(auth_event(user, "r")).await, 200);
        assert_eq!(waited(&proxy, user, "r").await, 200, "{user} confirmed first");
        assert_eq!(send(revocation.to_string()).await, 200);
        assert_eq!(waited(&proxy, user, "r").await, 404, "{user} forgotten");
    }
    // old_user: null is a typed event too.
    let null_old = json!({"type":"user_reauth","status":"warning","old_user":null,"new_user":{"user_id":"n2"}});
    assert_eq!(send(null_old.to_string()).await, 200);
    assert!(proxy.wait_for_log("webhook: user re-authenticated").await);
}

async fn widget(proxy: &ProxyProcess, body: Value) -> (u16, Value) {
    let response = client().post(format!("{}/api/terra/widget/session", proxy.url)).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn widget_tries_the_docs_path_then_on_404_the_openapi_path_and_providers_are_optional() {
    // The docs' path answers: one call, no providers forwarded when none were given.
    let terra = standin::start(Behaviour { expires_in: json!(900.0), ..Behaviour::default() }).await;
    let p = proxy(&terra.api_base(), &[("TERRA_CONNECT_ALLOWED_RESOURCES", "OURA")]);
    let (status, answer) = widget(&p, json!({"reference_id":"u9"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 900, "a float expires_in is read");
    let calls = terra.received();
    assert_eq!(calls.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/api/widget/session"]);
    assert_eq!(serde_json::from_slice::<Value>(&calls[0].body).unwrap(), json!({"reference_id":"u9"}));
    assert!(p.wait_for_log("widget_url=").await && p.logs().contains("/api/widget/session"));

    // The docs' path is missing: the OpenAPI path answers, and the log says so.
    let terra =
        standin::start(Behaviour { docs_widget_path_missing: true, expires_in: json!(899.5), ..Behaviour::default() })
            .await;
    let p = proxy(&terra.api_base(), &[("TERRA_CONNECT_ALLOWED_RESOURCES", "OURA")]);
    let (status, answer) = widget(&p, json!({"providers":"oura"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 899.5);
    let paths: Vec<String> = terra.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/widget/session", "/widget/api/session"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&terra.to("/widget/api/session")[0].body).unwrap(),
        json!({"providers":"OURA"})
    );
    assert!(p.wait_for_log("trying the next path").await);
    assert!(p.logs().lines().any(|l| l.contains("widget session created") && l.contains("/widget/api/session")));

    // TERRA_WIDGET_URL overrides both.
    let terra = standin::start(Behaviour { expires_in: json!(900), ..Behaviour::default() }).await;
    let custom = format!("{}/custom/widget", terra.origin);
    let p = proxy(&terra.api_base(), &[("TERRA_WIDGET_URL", &custom)]);
    assert_eq!(widget(&p, json!({})).await.0, 200);
    assert_eq!(terra.received().iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/custom/widget"]);
}

#[tokio::test]
async fn the_checked_redirect_is_what_is_forwarded() {
    let terra = standin::start(Behaviour::default()).await;
    let p = proxy(
        &terra.api_base(),
        &[("TERRA_CONNECT_ALLOWED_REDIRECTS", "https://app.example"), ("TERRA_CONNECT_ALLOWED_RESOURCES", "FITBIT")],
    );
    let response = client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource=FITBIT", p.url))
        .json(&json!({"auth_success_redirect_url": "https://app.example\\@evil.example/done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent: Value = serde_json::from_slice(&terra.to("/api/v2/auth/authenticateUser")[0].body).unwrap();
    let forwarded = sent["auth_success_redirect_url"].as_str().unwrap();
    assert_eq!(forwarded, "https://app.example/@evil.example/done");
    // An RFC 3986 reading of what was forwarded: the authority ends at the first '/'.
    let authority = forwarded.trim_start_matches("https://").split(['/', '?', '#']).next().unwrap();
    assert_eq!(authority, "app.example");
}
