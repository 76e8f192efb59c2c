//! The library mounted in-process: a slow or panicking `on_event` (Terra still gets its answer
//! in time; a failed one is processed on retry), a custom `Store` (a store that is down gives
//! 503 `store_unavailable` where state is needed, and the rate limit fails open).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use common::client;
use serde_json::{json, Value};
use terra_connect_proxy::store::{Claim, RateDecision};
use terra_connect_proxy::webhook::{signature_header, TerraUser, WebhookEvent};
use terra_connect_proxy::{Credentials, ProxyBuilder, Store, StoreError};

const SECRET: &[u8] = b"whsec_library";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn builder() -> ProxyBuilder {
    ProxyBuilder::new("http://127.0.0.1:9/api/v2", Credentials { dev_id: "d".into(), api_key: "k".into() })
        .allowed_resources(vec!["FITBIT".into()])
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().nest("/t", router).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/t")
}

async fn deliver(url: &str, body: &str, trace: &str) -> (u16, Value) {
    let r = client()
        .post(format!("{url}/webhook"))
        .header("x-terra-signature", signature_header(SECRET, now(), body.as_bytes()))
        .header("x-terra-trace-id", trace)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_slow_on_event_does_not_delay_terras_answer() {
    let finished = Arc::new(AtomicUsize::new(0));
    let seen = finished.clone();
    let router = builder()
        .webhooks(SECRET.to_vec(), move |_event: WebhookEvent| {
            std::thread::sleep(Duration::from_secs(4));
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let url = serve(router).await;
    let started = Instant::now();
    let (status, _) = deliver(&url, r#"{"type":"activity"}"#, "slow-1").await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(3), "answered after {:?}", started.elapsed());
    // It counts as handled: Terra's retry is a duplicate; the callback still completes.
    assert_eq!(deliver(&url, r#"{"type":"activity"}"#, "slow-1").await.1, json!({"status":"duplicate"}));
    for _ in 0..60 {
        if finished.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_on_event_leaves_the_delivery_for_terras_retry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = builder()
        .webhooks(SECRET.to_vec(), move |_event: WebhookEvent| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the app's handler failed once");
            }
        })
        .build();
    let url = serve(router).await;
    let body = r#"{"type":"sleep","data":[]}"#;
    let (status, answer) = deliver(&url, body, "panic-1").await;
    assert_eq!((status, answer["code"].as_str()), (500, Some("handler_failed")));
    assert_eq!(deliver(&url, body, "panic-1").await, (200, json!({"status":"ok"})));
    assert_eq!(deliver(&url, body, "panic-1").await, (200, json!({"status":"duplicate"})));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A store that is down.
struct Down;

#[async_trait]
impl Store for Down {
    async fn claim_delivery(&self, _: &str, _: Duration) -> Result<Claim, StoreError> {
        Err(StoreError("down".into()))
    }
    async fn finish_delivery(&self, _: &str, _: Duration) -> Result<(), StoreError> {
        Err(StoreError("down".into()))
    }
    async fn release_delivery(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError("down".into()))
    }
    async fn delivery_seen(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError("down".into()))
    }
    async fn record_auth(&self, _: &TerraUser, _: Duration) -> Result<(), StoreError> {
        Err(StoreError("down".into()))
    }
    async fn wait_for_auth(&self, _: &str, _: Duration) -> Result<Option<TerraUser>, StoreError> {
        Err(StoreError("down".into()))
    }
    async fn revoke(&self, _: &str, _: Duration) -> Result<(), StoreError> {
        Err(StoreError("down".into()))
    }
    async fn hit_rate_limit(&self, _: &str, _: u32) -> Result<RateDecision, StoreError> {
        Err(StoreError("down".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError("down".into()))
    }
}

#[tokio::test]
async fn a_store_that_is_down_is_a_503_and_the_rate_limit_fails_open() {
    let router = builder().store(Arc::new(Down)).rate_limit(1).webhooks(SECRET.to_vec(), |_| {}).build();
    let url = serve(router).await;
    let (status, answer) = deliver(&url, r#"{"type":"activity"}"#, "t-1").await;
    assert_eq!((status, answer["code"].as_str()), (503, Some("store_unavailable")));
    let r = client().get(format!("{url}/connection/webhook?user_id=u&reference_id=r")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "store_unavailable");
    // Rate-limited routes still answer (the limit cannot be checked, so it lets requests through):
    // Terra at 127.0.0.1:9 is unreachable, which is a 502, never a 429.
    for _ in 0..3 {
        let r = client()
            .post(format!("{url}/auth/authenticateUser?resource=FITBIT"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
    }
}

#[tokio::test]
async fn one_memory_store_shared_by_two_routers_is_one_state() {
    // What several instances get from a shared store, shown with two routers and one MemoryStore.
    let store: Arc<dyn Store> = Arc::new(terra_connect_proxy::MemoryStore::new());
    let a = serve(builder().store(store.clone()).webhooks(SECRET.to_vec(), |_| {}).build()).await;
    let b = serve(builder().store(store).webhooks(SECRET.to_vec(), |_| {}).build()).await;
    let body = json!({"type":"auth","status":"success","user":{"user_id":"shared","reference_id":"r"}}).to_string();
    assert_eq!(deliver(&a, &body, "x-1").await.1, json!({"status":"ok"}));
    assert_eq!(deliver(&b, &body, "x-1").await.1, json!({"status":"duplicate"}));
    let r = client().get(format!("{b}/connection/webhook?user_id=shared&reference_id=r")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
