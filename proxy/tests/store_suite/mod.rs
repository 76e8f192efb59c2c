//! The conformance suite of the `Store` trait, written over `Arc<dyn Store>` so that every
//! backend runs the same checks. Each check takes two stores: two instances sharing one
//! backend (two Redis clients), or the same store twice for a backend that is one instance
//! (memory). Every name is unique per run, so checks may share one backend.
//!
//! Bounds: every wait is a few seconds at most; "within a second" is the requirement
//! for cross-instance wake-ups, checked as a behaviour, not measured as performance.

#![allow(dead_code)]

pub mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use terra_connect_proxy::store::{Claim, RateDecision, Store, AUTH_KEEP, CLAIM_LEASE, PROCESSED_KEEP};
use terra_connect_proxy::webhook::TerraUser;

/// A name nobody else uses in this run.
pub fn unique(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::new_v4())
}

/// A user with a fresh id.
pub fn user(label: &str) -> TerraUser {
    TerraUser { user_id: unique(label), provider: Some("FITBIT".into()), reference_id: Some(format!("ref-{label}")) }
}

/// Claim, claim again, release, claim, finish, claim: on one instance and across two.
pub async fn claim_finish_release(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let key = unique("trace");
    assert!(!a.delivery_seen(&key).await.unwrap() && !b.delivery_seen(&key).await.unwrap(), "never claimed");
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
    assert!(b.delivery_seen(&key).await.unwrap(), "a claim is seen on the other instance");
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::InProgress, "a claimed key is in progress");
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::InProgress, "on the other instance too");
    a.release_delivery(&key).await.unwrap();
    assert!(b.delivery_seen(&key).await.unwrap(), "a released delivery stays seen, for Terra's late retries");
    assert_eq!(
        b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(),
        Claim::Claimed,
        "a released delivery is processed when Terra retries it"
    );
    b.finish_delivery(&key, PROCESSED_KEEP).await.unwrap();
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::AlreadyProcessed);
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::AlreadyProcessed);
    // A processed delivery stays processed: a late release (of a claim that is gone) is harmless.
    a.release_delivery(&key).await.unwrap();
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::AlreadyProcessed);
    // Another key is independent.
    let other = unique("trace");
    assert_eq!(b.claim_delivery(&other, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
}

/// Many concurrent claims of one delivery, spread over both stores: exactly one wins.
pub async fn concurrent_claims(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    for _round in 0..5 {
        let key = unique("trace");
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
            let key = key.clone();
            tasks.push(tokio::spawn(async move { store.claim_delivery(&key, CLAIM_LEASE).await.unwrap() }));
        }
        let mut claimed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Claim::Claimed => claimed += 1,
                Claim::InProgress => {}
                Claim::AlreadyProcessed => panic!("nobody finished this delivery"),
            }
        }
        assert_eq!(claimed, 1, "exactly one of 32 concurrent claims wins");
    }
}

/// A claim whose handler never ends expires after its lease; a processed delivery after `keep`.
pub async fn leases_and_keeps_expire(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let key = unique("trace");
    assert_eq!(a.claim_delivery(&key, Duration::from_millis(200)).await.unwrap(), Claim::Claimed);
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::InProgress);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed, "the lease expired");

    let key = unique("trace");
    assert!(!a.delivery_seen(&key).await.unwrap() && !b.delivery_seen(&key).await.unwrap(), "never claimed");
    assert_eq!(a.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed);
    assert!(b.delivery_seen(&key).await.unwrap(), "a claim is seen on the other instance");
    a.finish_delivery(&key, Duration::from_millis(200)).await.unwrap();
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::AlreadyProcessed);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.claim_delivery(&key, CLAIM_LEASE).await.unwrap(), Claim::Claimed, "forgotten after keep");
}

/// An auth event recorded at `a` wakes a long poll waiting at `b` within a second.
pub async fn record_wakes_waiter(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let person = user("wake");
    let waiting = {
        let (b, id) = (Arc::clone(&b), person.user_id.clone());
        tokio::spawn(async move { b.wait_for_auth(&id, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!waiting.is_finished(), "nothing recorded yet: still waiting");
    let recorded_at = Instant::now();
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    let found = tokio::time::timeout(Duration::from_secs(1), waiting)
        .await
        .expect("the waiter at the other instance woke within a second")
        .unwrap()
        .unwrap();
    assert!(recorded_at.elapsed() < Duration::from_secs(1));
    assert_eq!(found.as_ref(), Some(&person));
}

/// Several waiters for the same user (and one for another user) each get the right answer.
pub async fn many_waiters(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let person = user("many");
    let bystander = user("bystander");
    let mut waiting = Vec::new();
    for i in 0..6 {
        let store = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        let id = person.user_id.clone();
        waiting.push(tokio::spawn(async move { store.wait_for_auth(&id, Duration::from_secs(10)).await }));
    }
    let other = {
        let (b, id) = (Arc::clone(&b), bystander.user_id.clone());
        tokio::spawn(async move { b.wait_for_auth(&id, Duration::from_millis(800)).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    for task in waiting {
        let found = tokio::time::timeout(Duration::from_secs(1), task).await.expect("woken").unwrap().unwrap();
        assert_eq!(found.as_ref(), Some(&person));
    }
    assert_eq!(other.await.unwrap().unwrap(), None, "another user's event does not answer this user");
}

/// An event recorded before the wait answers at once; the event expires after `keep`.
pub async fn recorded_before_and_expiry(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let person = user("early");
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    let started = Instant::now();
    assert_eq!(b.wait_for_auth(&person.user_id, Duration::from_secs(10)).await.unwrap().as_ref(), Some(&person));
    assert!(started.elapsed() < Duration::from_secs(1), "answered at once, not after the wait");

    let short = user("short");
    a.record_auth(&short, Duration::from_millis(200)).await.unwrap();
    assert!(b.wait_for_auth(&short.user_id, Duration::ZERO).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(b.wait_for_auth(&short.user_id, Duration::ZERO).await.unwrap(), None, "expired after keep");
}

/// A wait with nothing recorded ends with `None` after about the wait, not before, not much later.
pub async fn wait_times_out(a: Arc<dyn Store>) {
    let started = Instant::now();
    assert_eq!(a.wait_for_auth(&unique("nobody"), Duration::from_millis(300)).await.unwrap(), None);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(290), "waited the whole time ({took:?})");
    assert!(took < Duration::from_secs(2), "did not overstay ({took:?})");
}

/// A revocation at one instance stops the other confirming, and later events for that user
/// are ignored while the revocation is kept.
pub async fn revoke_stops_confirming(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let person = user("revoked");
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    assert!(a.wait_for_auth(&person.user_id, Duration::ZERO).await.unwrap().is_some());
    b.revoke(&person.user_id, AUTH_KEEP).await.unwrap();
    assert_eq!(a.wait_for_auth(&person.user_id, Duration::from_millis(200)).await.unwrap(), None);
    a.record_auth(&person, AUTH_KEEP).await.unwrap();
    assert_eq!(
        b.wait_for_auth(&person.user_id, Duration::from_millis(200)).await.unwrap(),
        None,
        "an event for a revoked user is ignored"
    );
    // Other users are untouched.
    let other = user("kept");
    b.record_auth(&other, AUTH_KEEP).await.unwrap();
    assert!(a.wait_for_auth(&other.user_id, Duration::ZERO).await.unwrap().is_some());
}

/// A revocation is kept for `keep`, then the user may connect again.
pub async fn revocation_expires(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let person = user("again");
    a.revoke(&person.user_id, Duration::from_millis(200)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    b.record_auth(&person, AUTH_KEEP).await.unwrap();
    assert!(a.wait_for_auth(&person.user_id, Duration::ZERO).await.unwrap().is_some());
}

/// A limit of 5 per minute shared by both stores: five requests pass, the sixth is refused
/// (alternating stores), with a retry delay of at most the 12 s one request takes to refill.
/// Another client has its own budget.
pub async fn rate_limit_shared(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let client = unique("203.0.113.7");
    for i in 0..5 {
        let store = if i % 2 == 0 { &a } else { &b };
        assert_eq!(store.hit_rate_limit(&client, 5).await.unwrap(), RateDecision::Allowed, "request {}", i + 1);
    }
    match b.hit_rate_limit(&client, 5).await.unwrap() {
        RateDecision::Limited { retry_after_secs } => {
            assert!((1..=12).contains(&retry_after_secs), "retry after {retry_after_secs} s")
        }
        RateDecision::Allowed => panic!("the sixth request in a minute passed"),
    }
    assert!(matches!(a.hit_rate_limit(&client, 5).await.unwrap(), RateDecision::Limited { .. }));
    let other = unique("198.51.100.1");
    assert_eq!(a.hit_rate_limit(&other, 5).await.unwrap(), RateDecision::Allowed);
}

/// Concurrent requests from one client against both stores: exactly the limit passes.
pub async fn rate_limit_concurrent(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let client = unique("192.0.2.9");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        let client = client.clone();
        tasks.push(tokio::spawn(async move { store.hit_rate_limit(&client, 10).await.unwrap() }));
    }
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() == RateDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10, "a burst of 40 at a limit of 10/min lets 10 through");
}

/// At 60 per minute a burst of 60 passes, the 61st waits about a second, and one request
/// passes again once that second is over (then the next is refused again).
pub async fn rate_limit_refills(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let client = unique("2001:db8:1::");
    for i in 0..60 {
        let store = if i % 2 == 0 { &a } else { &b };
        assert_eq!(store.hit_rate_limit(&client, 60).await.unwrap(), RateDecision::Allowed, "request {}", i + 1);
    }
    assert_eq!(a.hit_rate_limit(&client, 60).await.unwrap(), RateDecision::Limited { retry_after_secs: 1 });
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(b.hit_rate_limit(&client, 60).await.unwrap(), RateDecision::Allowed, "refilled after a second");
    assert!(matches!(a.hit_rate_limit(&client, 60).await.unwrap(), RateDecision::Limited { .. }));
}

/// The backend answers a ping.
pub async fn ping(a: Arc<dyn Store>) {
    a.ping().await.unwrap();
}
