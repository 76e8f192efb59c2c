//! Several instances on one Redis, end to end: two real proxy binaries (A and B) configured
//! with `TERRA_CONNECT_REDIS_URL` on one real `redis-server`, as a load balancer would spread
//! Terra's webhooks and the browsers' requests over them. Then Redis stops and starts again.
//!
//! The binaries run against their built-in sandboxes (session creation) and share one webhook
//! secret; the webhooks are signed here, as Terra signs them. Every wait is bounded.

#![cfg(feature = "redis")]

mod common;
mod store_suite;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::ProxyProcess;
use serde_json::{json, Value};
use store_suite::redis_server::RedisServer;
use store_suite::unique;
use terra_connect_proxy::webhook::signature_header;
use terra_connect_proxy::{Credentials, ProxyBuilder, RedisConfig};

const SECRET: &str = "whsec-two-instances";

/// A receiver for `TERRA_CONNECT_WEBHOOK_FORWARD_URL`: counts the events each instance hands on.
#[derive(Clone, Default)]
struct Forwarded(Arc<Mutex<Vec<Option<String>>>>);

impl Forwarded {
    async fn start(&self) -> String {
        let seen = self.0.clone();
        let app = Router::new().route(
            "/events",
            post(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let trace = headers.get("x-terra-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    seen.lock().unwrap().push(trace);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn count(&self, trace: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|t| t.as_deref() == Some(trace)).count()
    }
}

/// Where an instance answers.
trait Url {
    fn url(&self) -> String;
}

impl Url for ProxyProcess {
    fn url(&self) -> String {
        self.url.clone()
    }
}

impl Url for String {
    fn url(&self) -> String {
        self.clone()
    }
}

/// Starts one proxy binary on `redis` with `extra` settings.
fn instance(redis: &RedisServer, extra: &[(&str, &str)]) -> ProxyProcess {
    let url = redis.url();
    let mut env = vec![("TERRA_WEBHOOK_SECRET", SECRET), ("TERRA_CONNECT_REDIS_URL", url.as_str())];
    env.extend_from_slice(extra);
    ProxyProcess::start(&env)
}

/// Posts a signed webhook (`body`, optional trace id) to `proxy`; status and JSON answer.
async fn deliver(proxy: &impl Url, body: &str, trace: Option<&str>) -> (u16, Value) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut request = common::client()
        .post(format!("{}/api/terra/webhook", proxy.url()))
        .header("content-type", "application/json")
        .header("x-terra-signature", signature_header(SECRET.as_bytes(), now, body.as_bytes()))
        .body(body.to_owned());
    if let Some(trace) = trace {
        request = request.header("x-terra-trace-id", trace);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
}

fn auth_event(user_id: &str, reference_id: &str) -> String {
    json!({"type": "auth", "status": "success", "reference_id": reference_id,
           "user": {"user_id": user_id, "provider": "FITBIT", "reference_id": reference_id}})
    .to_string()
}

/// `GET /connection/webhook` at `proxy`: status and JSON answer.
async fn confirm(proxy_url: &str, user_id: &str, reference_id: &str, wait_ms: u64) -> (u16, Value) {
    let answer = common::client()
        .get(format!(
            "{proxy_url}/api/terra/connection/webhook?user_id={user_id}&reference_id={reference_id}&wait_ms={wait_ms}"
        ))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
}

async fn healthz(proxy: &ProxyProcess) -> (u16, Value) {
    let answer =
        common::client().get(format!("{}/healthz", proxy.url)).timeout(Duration::from_secs(5)).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
}

/// Waits (at most 10 s) until `/healthz` of `proxy` is 200 again.
async fn healthy(proxy: &ProxyProcess) {
    let started = Instant::now();
    loop {
        let (status, body) = healthz(proxy).await;
        if status == 200 {
            assert_eq!(body["status"], "ok");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not healthy after 10 s: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A long poll waiting at `waiter` is answered within a second of a webhook posted at `poster`.
async fn webhook_wakes_long_poll(poster: &impl Url, waiter: &impl Url) {
    let (user_id, reference_id) = (unique("user"), unique("ref"));
    let waiting = {
        let (url, user_id, reference_id) = (waiter.url(), user_id.clone(), reference_id.clone());
        tokio::spawn(async move { confirm(&url, &user_id, &reference_id, 10_000).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "nothing delivered yet: the long poll waits");
    let posted = Instant::now();
    let (status, answer) = deliver(poster, &auth_event(&user_id, &reference_id), Some(&unique("trace"))).await;
    assert_eq!((status, answer), (200, json!({"status": "ok"})));
    let (status, body) = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the long poll at the other instance answered within a second")
        .unwrap();
    assert!(posted.elapsed() < Duration::from_secs(1));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["user_id"].as_str(), body["source"].as_str()), (Some(user_id.as_str()), Some("webhook")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_at_a_wakes_a_long_poll_at_b_within_a_second() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis, &[]), instance(&redis, &[]));
    healthy(&a).await;
    healthy(&b).await;
    webhook_wakes_long_poll(&a, &b).await;
    webhook_wakes_long_poll(&b, &a).await;
    // Delivered before the browser asks: answered at once.
    let (user_id, reference_id) = (unique("user"), unique("ref"));
    deliver(&b, &auth_event(&user_id, &reference_id), None).await;
    let started = Instant::now();
    assert_eq!(confirm(&a.url, &user_id, &reference_id, 10_000).await.0, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_retried_at_b_is_acknowledged_and_not_processed_twice() {
    let redis = RedisServer::start();
    let forwarded = Forwarded::default();
    let forward_url = forwarded.start().await;
    let extra = [("TERRA_CONNECT_WEBHOOK_FORWARD_URL", forward_url.as_str())];
    let (a, b) = (instance(&redis, &extra), instance(&redis, &extra));
    let trace = unique("trace");
    let body = auth_event(&unique("user"), "ref-retry");
    assert_eq!(deliver(&a, &body, Some(&trace)).await, (200, json!({"status": "ok"})));
    assert_eq!(forwarded.count(&trace), 1);
    for proxy in [&b, &a, &b] {
        assert_eq!(deliver(proxy, &body, Some(&trace)).await, (200, json!({"status": "duplicate"})));
    }
    assert_eq!(forwarded.count(&trace), 1, "the retries were acknowledged, not handed on again");
    // Without a trace id the signature is the key: the same at both instances.
    let body = auth_event(&unique("user"), "ref-no-trace");
    let before = forwarded.0.lock().unwrap().len();
    assert_eq!(deliver(&b, &body, None).await, (200, json!({"status": "ok"})));
    assert_eq!(deliver(&a, &body, None).await, (200, json!({"status": "duplicate"})));
    assert_eq!(forwarded.0.lock().unwrap().len(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deauth_at_b_stops_a_confirming() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis, &[]), instance(&redis, &[]));
    let (user_id, reference_id) = (unique("user"), unique("ref"));
    assert_eq!(deliver(&a, &auth_event(&user_id, &reference_id), None).await.0, 200);
    assert_eq!(confirm(&a.url, &user_id, &reference_id, 0).await.0, 200);
    assert_eq!(confirm(&b.url, &user_id, &reference_id, 0).await.0, 200);
    let deauth =
        json!({"type": "deauth", "user": {"user_id": user_id, "provider": "FITBIT", "reference_id": reference_id}});
    assert_eq!(deliver(&b, &deauth.to_string(), None).await, (200, json!({"status": "ok"})));
    assert_eq!(confirm(&a.url, &user_id, &reference_id, 0).await.0, 404, "A no longer confirms a revoked user");
    assert_eq!(confirm(&b.url, &user_id, &reference_id, 0).await.0, 404);
    // A late retry of the old auth event (another delivery) does not bring the user back.
    assert_eq!(deliver(&a, &auth_event(&user_id, &reference_id), Some(&unique("trace"))).await.0, 200);
    assert_eq!(confirm(&a.url, &user_id, &reference_id, 0).await.0, 404);
}

async fn create_session(proxy: &ProxyProcess) -> reqwest::Response {
    common::client()
        .post(format!("{}/api/terra/auth/authenticateUser?resource=FITBIT", proxy.url))
        .header("content-type", "application/json")
        .body(r#"{"reference_id":"rate-user","auth_success_redirect_url":"https://app.example/done"}"#)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_of_5_per_minute_across_a_and_b_refuses_the_sixth() {
    let redis = RedisServer::start();
    let extra = [("TERRA_CONNECT_RATE_LIMIT", "5")];
    let (a, b) = (instance(&redis, &extra), instance(&redis, &extra));
    for i in 0..5 {
        let proxy = if i % 2 == 0 { &a } else { &b };
        let answer = create_session(proxy).await;
        assert_eq!(answer.status(), 200, "request {}: {}", i + 1, answer.text().await.unwrap());
    }
    let sixth = create_session(&b).await;
    assert_eq!(sixth.status(), 429);
    let retry_after: u64 = sixth.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(sixth.json::<Value>().await.unwrap()["code"], "rate_limited");
    assert_eq!(create_session(&a).await.status(), 429, "and at A");
}

/// Runs `request`, which must answer 503 `store_unavailable` within a second.
async fn fast_503(what: &str, request: impl std::future::Future<Output = (u16, Value)>) {
    let started = Instant::now();
    let (status, body) = request.await;
    let took = started.elapsed();
    assert_eq!((status, body["code"].as_str()), (503, Some("store_unavailable")), "{what}: {body}");
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_fast_503s_and_degraded_healthz_then_started_both_recover() {
    let mut redis = RedisServer::start();
    let extra = [("TERRA_CONNECT_RATE_LIMIT", "1000")];
    let (a, b) = (instance(&redis, &extra), instance(&redis, &extra));
    healthy(&a).await;
    healthy(&b).await;
    webhook_wakes_long_poll(&a, &b).await;

    redis.stop();
    for proxy in [&a, &b] {
        let (user_id, reference_id) = (unique("user"), unique("ref"));
        fast_503("a long poll", confirm(&proxy.url, &user_id, &reference_id, 10_000)).await;
        fast_503("a webhook", deliver(proxy, &auth_event(&user_id, &reference_id), Some(&unique("trace")))).await;
        let started = Instant::now();
        let (status, body) = healthz(proxy).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_ne!(status, 200);
        assert_eq!(
            (body["status"].as_str(), body["store"].as_str()),
            (Some("degraded"), Some("unreachable")),
            "{body}"
        );
        // Session creation needs no shared state: it keeps working, the rate limit fails open.
        let started = Instant::now();
        let session = create_session(proxy).await;
        assert_eq!(session.status(), 200, "{}", session.text().await.unwrap());
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(proxy.wait_for_log("rate limit skipped").await, "the fail-open is logged");
    }

    redis.restart();
    healthy(&a).await;
    healthy(&b).await;
    webhook_wakes_long_poll(&a, &b).await;
    webhook_wakes_long_poll(&b, &a).await;
}

/// A router mounted by an app, as the binary mounts it, served on a loopback port.
async fn mount(redis: &RedisServer) -> String {
    let proxy =
        ProxyBuilder::new("http://127.0.0.1:9/api/v2", Credentials { dev_id: "dev".into(), api_key: "key".into() })
            .allowed_resources(vec!["FITBIT".into()])
            .webhooks(SECRET.as_bytes().to_vec(), |_| {})
            .redis(RedisConfig::new(redis.url()).prefix("mounted-app:"))
            .unwrap()
            .build();
    let app = Router::new().nest("/api/terra", proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routers_mounted_with_proxybuilder_redis_share_one_state() {
    let redis = RedisServer::start();
    let (a, b) = (mount(&redis).await, mount(&redis).await);
    webhook_wakes_long_poll(&a, &b).await;
    let body = auth_event(&unique("user"), "ref-mounted");
    let trace = unique("trace");
    assert_eq!(deliver(&b, &body, Some(&trace)).await, (200, json!({"status": "ok"})));
    assert_eq!(deliver(&a, &body, Some(&trace)).await, (200, json!({"status": "duplicate"})));
    assert!(ProxyBuilder::new("http://127.0.0.1:9", Credentials { dev_id: "d".into(), api_key: "k".into() })
        .redis(RedisConfig::new("http://not-redis"))
        .is_err());
}
