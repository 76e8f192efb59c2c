//! The proxy's shared state behind one interface, so that one instance can keep it in memory
//! and many instances can share it in Redis. Routes talk to [`Store`] methods that say what
//! they mean; no route knows which backend answers.
//!
//! What lives here: webhook deliveries already processed (Terra retries a failed delivery with
//! the same `X-Terra-Trace-Id`), verified `auth` events waiting to confirm a browser's flow,
//! revoked user ids, and the rate-limit counters.
//!
//! Backends: [`memory::MemoryStore`] (the default, embedded) and `redis` (`TERRA_CONNECT_REDIS_URL`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

pub mod memory;

use crate::webhook::TerraUser;

#[cfg(feature = "redis")]
pub mod redis;

/// How long a processed delivery is remembered: longer than Terra retries (about 24 h).
pub const PROCESSED_KEEP: Duration = Duration::from_secs(48 * 60 * 60);
/// How long a delivery may stay claimed while its handler runs before a retry may claim it.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// How long a verified `auth` event (and a revocation) is kept.
pub const AUTH_KEEP: Duration = Duration::from_secs(15 * 60);

/// The store could not answer (Redis unreachable, timed out, or gave an unexpected reply).
/// Routes that need the store answer 503 `store_unavailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the store is unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// What [`Store::claim_delivery`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody processed or is processing this delivery: the caller now holds it and must end
    /// with [`Store::finish_delivery`] (handled) or [`Store::release_delivery`] (failed).
    Claimed,
    /// The delivery was processed before: answer 2xx, do not process it again.
    AlreadyProcessed,
    /// Another request (here or on another instance) is processing it right now.
    InProgress,
}

/// The outcome of one rate-limit step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request may go ahead.
    Allowed,
    /// Refused; the client may retry after this many seconds.
    Limited {
        /// Seconds until a request would be allowed.
        retry_after_secs: u64,
    },
}

/// Shared state of the proxy. Every method is one short operation (one round trip for Redis)
/// except [`Store::wait_for_auth`], which waits without polling.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Claims the delivery `key` (the `X-Terra-Trace-Id`, or the signature without one) for
    /// processing, for at most `lease`.
    async fn claim_delivery(&self, key: &str, lease: Duration) -> Result<Claim, StoreError>;

    /// Marks the claimed delivery `key` as processed, remembered for `keep`.
    async fn finish_delivery(&self, key: &str, keep: Duration) -> Result<(), StoreError>;

    /// Gives up the claim on `key` (its handling failed), so that Terra's retry processes it.
    async fn release_delivery(&self, key: &str) -> Result<(), StoreError>;

    /// Whether the delivery `key` was claimed before (processed, being processed, or released
    /// after a failure) within the last [`PROCESSED_KEEP`]. Terra's retries carry the first
    /// attempt's signature and timestamp for about a day, past the signature's 5-minute
    /// window: a retry of a delivery this proxy saw in time is let through to the HMAC check,
    /// a stale delivery it never saw is refused before its body is read.
    async fn delivery_seen(&self, key: &str) -> Result<bool, StoreError>;

    /// Records a verified `auth` success for `user.user_id`, kept for `keep`, and wakes every
    /// [`Store::wait_for_auth`] on every instance. Ignored for a revoked user id.
    async fn record_auth(&self, user: &TerraUser, keep: Duration) -> Result<(), StoreError>;

    /// The recorded `auth` event of `user_id`, waiting up to `wait` for it to arrive.
    /// `Ok(None)` when none arrived in time or the user was revoked.
    async fn wait_for_auth(&self, user_id: &str, wait: Duration) -> Result<Option<TerraUser>, StoreError>;

    /// Forgets the `auth` event of `user_id` and remembers the revocation for `keep`
    /// (after `deauth`, `access_revoked`, or `user_reauth` for the old user).
    async fn revoke(&self, user_id: &str, keep: Duration) -> Result<(), StoreError>;

    /// One rate-limit step for `client` (an address or /64 prefix as text): at most
    /// `per_minute` requests per minute, bursts up to `per_minute`. Atomic across instances.
    async fn hit_rate_limit(&self, client: &str, per_minute: u32) -> Result<RateDecision, StoreError>;

    /// Whether the backend is reachable now (`/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
