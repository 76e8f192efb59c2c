//! The Redis store against a real `redis-server` on a loopback port: the conformance suite with
//! two stores as two instances, then what only Redis has (keys and expiries, prefixes, claim
//! tokens) and what happens when Redis goes away and comes back.

#![cfg(feature = "redis")]

mod store_suite;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store_suite::redis_server::RedisServer;
use store_suite::{unique, user};
use terra_connect_proxy::store::redis::{RedisConfig, RedisStore};
use terra_connect_proxy::store::{Claim, Store, StoreError, AUTH_KEEP, CLAIM_LEASE, PROCESSED_KEEP};

const READY: Duration = Duration::from_secs(5);

async fn open(config: RedisConfig) -> Arc<RedisStore> {
    let store = Arc::new(RedisStore::open(config).unwrap());
    store.ready(READY).await.unwrap();
    store
}

/// Two instances of the proxy's store on one Redis.
async fn pair(server: &RedisServer) -> (Arc<RedisStore>, Arc<RedisStore>) {
    let prefix = format!("{}:", unique("t"));
    (
        open(RedisConfig::new(server.url()).prefix(prefix.clone())).await,
        open(RedisConfig::new(server.url()).prefix(prefix)).await,
    )
}

fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).unwrap().get_connection().unwrap()
}

macro_rules! suite_on_two_instances {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let server = RedisServer::start();
            let (a, b) = pair(&server).await;
            store_suite::$check(a, b).await;
        }
    )*};
}

suite_on_two_instances!(
    claim_finish_release,
    concurrent_claims,
    leases_and_keeps_expire,
    record_wakes_waiter,
    many_waiters,
    recorded_before_and_expiry,
    revoke_stops_confirming,
    revocation_expires,
    rate_limit_shared,
    rate_limit_concurrent,
    rate_limit_refills,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_times_out_and_ping() {
    let server = RedisServer::start();
    let (a, _) = pair(&server).await;
    store_suite::wait_times_out(a.clone()).await;
    store_suite::ping(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_under_the_prefix_with_their_expiries() {
    let server = RedisServer::start();
    let store = open(RedisConfig::new(server.url()).prefix("deployment-a:")).await;
    let delivery = unique("trace");
    assert_eq!(store.claim_delivery(&delivery, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
    store.finish_delivery(&delivery, PROCESSED_KEEP).await.unwrap();
    let person = user("ttl");
    store.record_auth(&person, AUTH_KEEP).await.unwrap();
    let gone = user("gone");
    store.revoke(&gone.user_id, AUTH_KEEP).await.unwrap();
    store.hit_rate_limit("203.0.113.1", 5).await.unwrap();

    let mut con = raw(&server);
    let pttl = |con: &mut redis::Connection, key: String| -> i64 { redis::cmd("PTTL").arg(key).query(con).unwrap() };
    let processed = pttl(&mut con, format!("deployment-a:delivery:{delivery}"));
    assert!(
        processed > (PROCESSED_KEEP - Duration::from_secs(60)).as_millis() as i64
            && processed <= PROCESSED_KEEP.as_millis() as i64,
        "a processed delivery is kept 48 h (PTTL {processed} ms)"
    );
    let seen = pttl(&mut con, format!("deployment-a:seen:{delivery}"));
    assert!(
        seen > (PROCESSED_KEEP - Duration::from_secs(60)).as_millis() as i64
            && seen <= PROCESSED_KEEP.as_millis() as i64,
        "a claimed delivery is remembered as seen for 48 h (PTTL {seen} ms)"
    );
    let auth = pttl(&mut con, format!("deployment-a:auth:{}", person.user_id));
    assert!(auth > 0 && auth <= AUTH_KEEP.as_millis() as i64, "auth events expire (PTTL {auth})");
    let revoked = pttl(&mut con, format!("deployment-a:revoked:{}", gone.user_id));
    assert!(revoked > 0 && revoked <= AUTH_KEEP.as_millis() as i64, "revocations expire (PTTL {revoked})");
    let rate = pttl(&mut con, "deployment-a:rate:203.0.113.1".into());
    assert!(rate > 0 && rate <= 12_000, "a rate counter lives at most one emission interval here (PTTL {rate})");

    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("deployment-a:")), "every key is under the prefix: {keys:?}");
    let stored: String =
        redis::cmd("GET").arg(format!("deployment-a:auth:{}", person.user_id)).query(&mut con).unwrap();
    assert_eq!(serde_json::from_str::<terra_connect_proxy::webhook::TerraUser>(&stored).unwrap(), person);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_with_other_prefixes_do_not_see_each_other() {
    let server = RedisServer::start();
    let a = open(RedisConfig::new(server.url()).prefix("one:")).await;
    let b = open(RedisConfig::new(server.url()).prefix("two:")).await;
    let key = unique("trace");
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
    let person = user("isolated");
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    assert_eq!(b.wait_for_auth(&person.user_id, Duration::from_millis(200)).await.unwrap(), None);
    b.revoke(&person.user_id, AUTH_KEEP).await.unwrap();
    assert!(a.wait_for_auth(&person.user_id, Duration::ZERO).await.unwrap().is_some());
    for _ in 0..5 {
        a.hit_rate_limit("192.0.2.1", 5).await.unwrap();
    }
    assert_eq!(b.hit_rate_limit("192.0.2.1", 5).await.unwrap(), terra_connect_proxy::store::RateDecision::Allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_never_drops_another_instances_claim() {
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    let key = unique("trace");
    assert_eq!(a.claim_delivery(&key, Duration::from_millis(200)).await.unwrap(), Claim::Claimed);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed, "a's lease expired");
    a.release_delivery(&key).await.unwrap(); // a's handler fails late
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::InProgress, "b still holds it");
    b.finish_delivery(&key, PROCESSED_KEEP).await.unwrap();
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::AlreadyProcessed);
}

/// Runs `call`, which must fail with a `StoreError` within a second.
async fn fails_fast<T: std::fmt::Debug>(what: &str, call: impl Future<Output = Result<T, StoreError>>) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(3), call).await;
    let took = started.elapsed();
    match outcome {
        Ok(Err(StoreError(message))) => assert!(!message.is_empty()),
        Ok(Ok(value)) => panic!("{what} succeeded with Redis down: {value:?}"),
        Err(_) => panic!("{what} hung with Redis down"),
    }
    assert!(took < Duration::from_secs(1), "{what} took {took:?} to fail");
}

async fn every_method_fails_fast(store: &Arc<RedisStore>) {
    let person = user("down");
    let key = unique("trace");
    fails_fast("ping", store.ping()).await;
    fails_fast("claim_delivery", store.claim_delivery(&key, CLAIM_LEASE)).await;
    fails_fast("finish_delivery", store.finish_delivery(&key, PROCESSED_KEEP)).await;
    fails_fast("record_auth", store.record_auth(&person, AUTH_KEEP)).await;
    fails_fast("wait_for_auth", store.wait_for_auth(&person.user_id, Duration::from_secs(10))).await;
    fails_fast("revoke", store.revoke(&person.user_id, AUTH_KEEP)).await;
    fails_fast("hit_rate_limit", store.hit_rate_limit("203.0.113.9", 5)).await;
    fails_fast("ping again", store.ping()).await;
}

/// After Redis comes back, `store` answers again by itself (bounded wait, no restart).
async fn recovers(store: &Arc<RedisStore>) {
    let started = Instant::now();
    loop {
        if store.ping().await.is_ok() {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the store did not recover within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_every_method_fails_within_a_second_then_restarted_everything_recovers() {
    let mut server = RedisServer::start();
    let (a, b) = pair(&server).await;
    store_suite::record_wakes_waiter(a.clone(), b.clone()).await;

    // A long poll waiting when Redis dies ends by itself (no hang) when its wait is over.
    let person = user("during");
    let waiting = {
        let (b, id) = (b.clone(), person.user_id.clone());
        tokio::spawn(async move { b.wait_for_auth(&id, Duration::from_millis(1500)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop();
    every_method_fails_fast(&a).await;
    every_method_fails_fast(&b).await;
    assert!(tokio::time::timeout(Duration::from_secs(3), waiting).await.is_ok(), "the waiter ended");

    // Down for a while (reconnection attempts keep failing), then back on the same port.
    tokio::time::sleep(Duration::from_millis(700)).await;
    every_method_fails_fast(&a).await;
    server.restart();
    recovers(&a).await;
    recovers(&b).await;
    // The same objects: commands, scripts (reloaded into the new, empty Redis), wake-ups.
    store_suite::claim_finish_release(a.clone(), b.clone()).await;
    store_suite::record_wakes_waiter(a.clone(), b.clone()).await;
    store_suite::record_wakes_waiter(b.clone(), a.clone()).await;
    store_suite::rate_limit_shared(a.clone(), b.clone()).await;

    // And a second outage is handled like the first.
    server.stop();
    every_method_fails_fast(&b).await;
    server.restart();
    recovers(&a).await;
    recovers(&b).await;
    store_suite::record_wakes_waiter(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_opened_while_redis_is_down_works_once_it_is_up() {
    let mut server = RedisServer::start();
    server.stop();
    let prefix = format!("{}:", unique("late"));
    let a = Arc::new(RedisStore::open(RedisConfig::new(server.url()).prefix(prefix.clone())).unwrap());
    let b = Arc::new(RedisStore::open(RedisConfig::new(server.url()).prefix(prefix)).unwrap());
    every_method_fails_fast(&a).await;
    assert!(a.ready(Duration::from_millis(300)).await.is_err());
    server.restart();
    a.ready(READY).await.unwrap();
    b.ready(READY).await.unwrap();
    store_suite::record_wakes_waiter(a.clone(), b.clone()).await;
    store_suite::claim_finish_release(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_is_renewed_and_events_published_meanwhile_still_wake() {
    let server = RedisServer::start();
    let (a, b) = pair(&server).await;
    for round in 0..3 {
        let person = user("resubscribe");
        let waiting = {
            let (b, id) = (b.clone(), person.user_id.clone());
            tokio::spawn(async move { b.wait_for_auth(&id, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Drop every pub/sub connection (both instances' listeners); commands stay up.
        let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query(&mut raw(&server)).unwrap();
        assert!(killed >= 2, "round {round}: both listeners were subscribed ({killed} killed)");
        a.record_auth(&person, AUTH_KEEP).await.unwrap(); // published while b may be unsubscribed
        let found = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken within a second after the subscription came back")
            .unwrap()
            .unwrap();
        assert_eq!(found, Some(person));
        recovers(&a).await;
        recovers(&b).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_subscriptions_are_checked_without_breaking_them() {
    let server = RedisServer::start();
    let prefix = format!("{}:", unique("idle"));
    let config = |p: &str| RedisConfig {
        health_check_every: Duration::from_millis(100),
        ..RedisConfig::new(server.url()).prefix(p)
    };
    let a = open(config(&prefix)).await;
    let b = open(config(&prefix)).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // several PINGs on idle subscriptions
    let clients: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("pubsub").query(&mut raw(&server)).unwrap();
    assert_eq!(clients.lines().count(), 2, "one subscription per store, not a new one per check: {clients}");
    a.ping().await.unwrap();
    b.ping().await.unwrap();
    store_suite::record_wakes_waiter(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_urls_and_passwords_are_reported_without_the_secret() {
    for url in ["http://127.0.0.1:6379", "not a url", "redis://"] {
        let error = RedisStore::open(RedisConfig::new(url)).err().unwrap_or_else(|| panic!("{url} accepted"));
        assert!(error.to_string().contains("URL"), "{error}");
    }
    let server = RedisServer::start();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{}/0", server.port());
    let config = RedisConfig::new(url);
    assert!(!format!("{config:?}").contains("hunter2"));
    // This Redis has no password: AUTH fails, and the error does not repeat the password.
    let store = RedisStore::open(config).unwrap();
    let started = Instant::now();
    let error = store.ping().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(!format!("{store:?}").contains("hunter2"));
}
