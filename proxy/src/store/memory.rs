//! [`MemoryStore`]: the proxy's shared state in this process (one instance).
//!
//! Every operation is a short critical section on one map; the rate limit is `governor`'s
//! keyed GCRA limiter (one atomic step per request). A background task started on first use
//! forgets expired entries every [`SWEEP_EVERY`], so memory stays bounded without scanning on
//! the request path.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;

use super::{Claim, RateDecision, Store, StoreError, PROCESSED_KEEP};
use crate::webhook::TerraUser;

/// How often expired entries and idle rate-limit keys are forgotten.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Being handled until the instant.
    Claimed(Instant),
    /// Processed; remembered until the instant.
    Processed(Instant),
}

#[derive(Default)]
struct Inner {
    deliveries: Mutex<HashMap<String, Delivery>>,
    /// Every delivery ever claimed, until the instant (see [`Store::delivery_seen`]).
    seen: Mutex<HashMap<String, Instant>>,
    auth: Mutex<HashMap<String, (TerraUser, Instant)>>,
    revoked: Mutex<HashMap<String, Instant>>,
    arrived: Notify,
    limiters: RwLock<HashMap<u32, Arc<DefaultKeyedRateLimiter<String>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn sweep(&self) {
        let now = Instant::now();
        lock(&self.deliveries).retain(|_, d| match *d {
            Delivery::Claimed(until) | Delivery::Processed(until) => until > now,
        });
        lock(&self.seen).retain(|_, until| *until > now);
        lock(&self.auth).retain(|_, (_, until)| *until > now);
        lock(&self.revoked).retain(|_, until| *until > now);
        for limiter in self.limiters.read().unwrap_or_else(|p| p.into_inner()).values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn is_revoked(&self, user_id: &str) -> bool {
        lock(&self.revoked).get(user_id).is_some_and(|until| *until > Instant::now())
    }

    fn auth(&self, user_id: &str) -> Option<TerraUser> {
        if self.is_revoked(user_id) {
            return None;
        }
        lock(&self.auth).get(user_id).filter(|(_, until)| *until > Instant::now()).map(|(u, _)| u.clone())
    }
}

/// The default [`Store`]: everything in this process's memory. Use one per process (clones
/// share it); several instances behind a load balancer need a shared backend instead.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
    sweeper: Arc<OnceLock<()>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many client keys the rate limiter holds now (for tests of the memory bound).
    pub fn rate_limit_keys(&self) -> usize {
        self.inner.limiters.read().unwrap_or_else(|p| p.into_inner()).values().map(|l| l.len()).sum()
    }

    /// Forgets expired entries and idle rate-limit keys now (the background task does it
    /// every [`SWEEP_EVERY`]).
    pub fn sweep(&self) {
        self.inner.sweep();
    }

    /// Starts the periodic sweep once, inside the first runtime that uses the store. The task
    /// holds a weak reference and ends when the store is dropped.
    fn start_sweeper(&self) {
        self.sweeper.get_or_init(|| {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let weak: Weak<Inner> = Arc::downgrade(&self.inner);
                handle.spawn(async move {
                    let mut tick = tokio::time::interval(SWEEP_EVERY);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        match weak.upgrade() {
                            Some(inner) => inner.sweep(),
                            None => break,
                        }
                    }
                });
            }
        });
    }

    fn limiter(&self, per_minute: u32) -> Arc<DefaultKeyedRateLimiter<String>> {
        if let Some(l) = self.inner.limiters.read().unwrap_or_else(|p| p.into_inner()).get(&per_minute) {
            return l.clone();
        }
        let mut all = self.inner.limiters.write().unwrap_or_else(|p| p.into_inner());
        all.entry(per_minute)
            .or_insert_with(|| {
                let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
                Arc::new(RateLimiter::keyed(Quota::per_minute(n)))
            })
            .clone()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn claim_delivery(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        self.start_sweeper();
        let now = Instant::now();
        let mut deliveries = lock(&self.inner.deliveries);
        match deliveries.get(key) {
            Some(Delivery::Processed(until)) if *until > now => Ok(Claim::AlreadyProcessed),
            Some(Delivery::Claimed(until)) if *until > now => Ok(Claim::InProgress),
            _ => {
                deliveries.insert(key.to_owned(), Delivery::Claimed(now + lease));
                drop(deliveries);
                lock(&self.inner.seen).insert(key.to_owned(), now + PROCESSED_KEEP);
                Ok(Claim::Claimed)
            }
        }
    }

    async fn finish_delivery(&self, key: &str, keep: Duration) -> Result<(), StoreError> {
        lock(&self.inner.deliveries).insert(key.to_owned(), Delivery::Processed(Instant::now() + keep));
        Ok(())
    }

    async fn release_delivery(&self, key: &str) -> Result<(), StoreError> {
        let mut deliveries = lock(&self.inner.deliveries);
        if matches!(deliveries.get(key), Some(Delivery::Claimed(_))) {
            deliveries.remove(key);
        }
        Ok(())
    }

    async fn delivery_seen(&self, key: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.inner.seen).get(key).is_some_and(|until| *until > Instant::now()))
    }

    async fn record_auth(&self, user: &TerraUser, keep: Duration) -> Result<(), StoreError> {
        self.start_sweeper();
        if self.inner.is_revoked(&user.user_id) {
            return Ok(());
        }
        lock(&self.inner.auth).insert(user.user_id.clone(), (user.clone(), Instant::now() + keep));
        self.inner.arrived.notify_waiters();
        Ok(())
    }

    async fn wait_for_auth(&self, user_id: &str, wait: Duration) -> Result<Option<TerraUser>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(user) = self.inner.auth(user_id) {
                return Ok(Some(user));
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Ok(self.inner.auth(user_id));
            }
        }
    }

    async fn revoke(&self, user_id: &str, keep: Duration) -> Result<(), StoreError> {
        self.start_sweeper();
        lock(&self.inner.auth).remove(user_id);
        lock(&self.inner.revoked).insert(user_id.to_owned(), Instant::now() + keep);
        Ok(())
    }

    async fn hit_rate_limit(&self, client: &str, per_minute: u32) -> Result<RateDecision, StoreError> {
        self.start_sweeper();
        let limiter = self.limiter(per_minute);
        match limiter.check_key(&client.to_owned()) {
            Ok(()) => Ok(RateDecision::Allowed),
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                Ok(RateDecision::Limited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 })
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> TerraUser {
        TerraUser { user_id: id.into(), provider: Some("OURA".into()), reference_id: Some("r".into()) }
    }

    #[tokio::test]
    async fn a_delivery_is_processed_once_and_a_failed_one_again() {
        let store = MemoryStore::new();
        let lease = Duration::from_secs(30);
        assert_eq!(store.claim_delivery("a", lease).await.unwrap(), Claim::Claimed);
        assert_eq!(store.claim_delivery("a", lease).await.unwrap(), Claim::InProgress);
        store.release_delivery("a").await.unwrap();
        assert_eq!(store.claim_delivery("a", lease).await.unwrap(), Claim::Claimed, "released: retried");
        store.finish_delivery("a", Duration::from_secs(60)).await.unwrap();
        assert_eq!(store.claim_delivery("a", lease).await.unwrap(), Claim::AlreadyProcessed);
        store.release_delivery("a").await.unwrap();
        assert_eq!(store.claim_delivery("a", lease).await.unwrap(), Claim::AlreadyProcessed, "finished stays");
        assert_eq!(store.claim_delivery("b", Duration::ZERO).await.unwrap(), Claim::Claimed);
        assert_eq!(store.claim_delivery("b", lease).await.unwrap(), Claim::Claimed, "an expired lease is free");
        assert!(store.delivery_seen("a").await.unwrap() && store.delivery_seen("b").await.unwrap());
        assert!(!store.delivery_seen("never").await.unwrap());
    }

    #[tokio::test]
    async fn auth_events_wake_waiters_and_revocations_win() {
        let store = MemoryStore::new();
        let keep = Duration::from_secs(60);
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move { store.wait_for_auth("u1", Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        store.record_auth(&user("u1"), keep).await.unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), Some(user("u1")));
        store.revoke("u1", keep).await.unwrap();
        assert_eq!(store.wait_for_auth("u1", Duration::ZERO).await.unwrap(), None);
        store.record_auth(&user("u1"), keep).await.unwrap();
        assert_eq!(store.wait_for_auth("u1", Duration::ZERO).await.unwrap(), None, "a revoked id stays revoked");
        assert_eq!(store.wait_for_auth("nobody", Duration::from_millis(20)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn rate_limit_refuses_past_the_quota_per_key_and_forgets_idle_keys() {
        let store = MemoryStore::new();
        for _ in 0..3 {
            assert_eq!(store.hit_rate_limit("10.0.0.1", 3).await.unwrap(), RateDecision::Allowed);
        }
        match store.hit_rate_limit("10.0.0.1", 3).await.unwrap() {
            RateDecision::Limited { retry_after_secs } => assert!((19..=20).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.hit_rate_limit("10.0.0.2", 3).await.unwrap(), RateDecision::Allowed);
        // A burst of distinct keys at a high quota: each refills at once, so a sweep forgets them.
        for i in 0..5_000u32 {
            store.hit_rate_limit(&format!("k{i}"), 6_000_000).await.unwrap();
        }
        assert!(store.rate_limit_keys() >= 5_000);
        tokio::time::sleep(Duration::from_millis(20)).await;
        store.sweep();
        assert!(store.rate_limit_keys() <= 2, "idle keys forgotten: {}", store.rate_limit_keys());
    }
}
