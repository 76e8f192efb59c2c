//! The Redis backend of [`Store`]: several proxy instances behind one address share one state.
//!
//! - **Commands** go through one [`ConnectionManager`] (a multiplexed connection that reconnects
//!   by itself). Every call is bounded by [`RedisConfig::command_timeout`]: an unreachable Redis
//!   gives a [`StoreError`] within that time, never a hanging request.
//! - **Deliveries**: `SET key claimed:<token> NX PX lease` claims a delivery (in a script that
//!   also tells "already processed" from "in progress" in the same round trip), `SET key done
//!   PX keep` marks it processed (kept [`PROCESSED_KEEP`](super::PROCESSED_KEEP) by the routes),
//!   and a release deletes the key only while it still holds this instance's claim token.
//! - **Auth events** are JSON values with an expiry; a script refuses them for a revoked user
//!   and `PUBLISH`es the user id in the same round trip. Revocations are keys with an expiry.
//! - **Wake-ups across instances**: a listener task holds a separate pub/sub connection
//!   subscribed to the auth channel and wakes the local waiters ([`tokio::sync::Notify`]) of the
//!   user id it hears. No polling: a waiter reads the key once, then sleeps until woken. When the
//!   subscription is lost the listener re-subscribes by itself (backing off up to half a second)
//!   and then wakes every local waiter once, so an event published while it was away is read.
//!   An idle subscription is checked with a `PING` every [`RedisConfig::health_check_every`].
//! - **Rate limit**: one Lua script per request (one round trip, atomic across instances)
//!   running GCRA, the algorithm of the `governor` crate: one key per client holding the
//!   "theoretical arrival time" in microseconds of Redis's own clock (`TIME`, so the
//!   instances' clocks do not matter). Chosen over `INCR` with a one-minute expiry because
//!   that fixed window lets a client send twice the limit across a window boundary, while GCRA
//!   gives exactly "bursts up to N, then one every 60/N s" like the memory store.
//!
//! Every key and the channel start with [`RedisConfig::prefix`] (`terra-connect:` by
//! default), so several deployments can share one Redis. Pub/sub channels are global to a
//! Redis server (not per database): deployments on different databases of one server should
//! use different prefixes too (a shared channel only costs spurious wake-ups, never a wrong
//! answer).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisResult, Script, Value};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Claim, RateDecision, Store, StoreError, PROCESSED_KEEP};
use crate::webhook::TerraUser;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "terra-connect:";
/// The default bound on one Redis call (connecting included).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// The default interval between checks of an idle pub/sub connection.
pub const DEFAULT_HEALTH_CHECK_EVERY: Duration = Duration::from_secs(5);

const RESUBSCRIBE_MIN_DELAY: Duration = Duration::from_millis(50);
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_millis(500);

/// How to reach Redis and name things in it.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://` when the crate's TLS is enabled).
    pub url: String,
    /// Put before every key and the pub/sub channel, e.g. `terra-connect:`.
    pub prefix: String,
    /// The longest one call may take, connecting included.
    pub command_timeout: Duration,
    /// How often an idle pub/sub connection is checked with a `PING` (a connection that died
    /// without closing is then replaced).
    pub health_check_every: Duration,
}

impl RedisConfig {
    /// The configuration for `url` with the default prefix and timeouts.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            health_check_every: DEFAULT_HEALTH_CHECK_EVERY,
        }
    }

    /// The same configuration with another key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisConfig {
        self.prefix = prefix.into();
        self
    }
}

impl fmt::Debug for RedisConfig {
    // The URL may hold a password: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("health_check_every", &self.health_check_every)
            .finish_non_exhaustive()
    }
}

/// [`Store`] in Redis, shared by every instance configured with the same URL and prefix.
pub struct RedisStore {
    commands: ConnectionManager,
    keys: Keys,
    command_timeout: Duration,
    local: Arc<Local>,
    /// This instance's claim tokens, so that a release never drops another instance's claim.
    claims: Mutex<HashMap<String, String>>,
    scripts: Scripts,
    listener: JoinHandle<()>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.keys.prefix).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `config.url`. Nothing is sent yet: the connection is made by the first
    /// command (and made again by itself after a loss), so the proxy starts while Redis is
    /// down and recovers when it comes back. Fails only on a URL that does not parse, or
    /// outside a Tokio runtime (the pub/sub listener is a task).
    pub fn open(config: RedisConfig) -> Result<RedisStore, StoreError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError("the Redis store must be opened inside a Tokio runtime".into()))?;
        let client =
            Client::open(config.url.as_str()).map_err(|e| StoreError(format!("the Redis URL is not valid ({e})")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.command_timeout))
            .set_response_timeout(Some(config.command_timeout))
            // Fail a reconnection quickly: the next command starts a new one, so a Redis that
            // comes back is used at once instead of after a long backoff.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200));
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(|e| StoreError(format!("the Redis connection could not be set up ({e})")))?;
        let keys = Keys { prefix: config.prefix };
        let local = Arc::new(Local { waiters: Mutex::new(HashMap::new()), subscribed: watch::Sender::new(false) });
        let listener = runtime.spawn(listen(
            client,
            keys.channel(),
            Arc::downgrade(&local),
            config.command_timeout,
            config.health_check_every,
        ));
        Ok(RedisStore {
            commands,
            keys,
            command_timeout: config.command_timeout,
            local,
            claims: Mutex::new(HashMap::new()),
            scripts: Scripts::new(),
            listener,
        })
    }

    /// Waits up to `within` until Redis answers and the pub/sub subscription is up (so that
    /// events recorded by other instances wake this one's waiters). For start-up and tests;
    /// the store works without calling it.
    pub async fn ready(&self, within: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + within;
        let mut subscribed = self.local.subscribed.subscribe();
        let waited = tokio::time::timeout_at(deadline, async {
            let _ = subscribed.wait_for(|up| *up).await;
            loop {
                if self.ping().await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        match waited {
            Ok(()) => Ok(()),
            Err(_) => Err(self.ping().await.err().unwrap_or_else(|| {
                StoreError(format!("Redis was not ready within {within:?} (pub/sub subscription down)"))
            })),
        }
    }

    /// Runs one call with the time bound, mapping every failure to a [`StoreError`].
    async fn run<T>(&self, what: &str, call: impl Future<Output = RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.command_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError(format!("Redis {what} failed: {e}"))),
            Err(_) => Err(StoreError(format!("Redis {what}: no answer within {:?}", self.command_timeout))),
        }
    }

    async fn get_auth(&self, user_id: &str) -> Result<Option<TerraUser>, StoreError> {
        let mut conn = self.commands.clone();
        let key = self.keys.auth(user_id);
        let raw: Option<String> =
            self.run("GET", async move { ::redis::cmd("GET").arg(key).query_async(&mut conn).await }).await?;
        match raw {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|_| StoreError("Redis holds an auth event that is not valid JSON".into())),
        }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Milliseconds for `PX`, at least 1 (Redis refuses 0).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl Store for RedisStore {
    async fn claim_delivery(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let token = format!("claimed:{}", uuid::Uuid::new_v4());
        let mut conn = self.commands.clone();
        let (redis_key, seen_key, value, script) =
            (self.keys.delivery(key), self.keys.seen(key), token.clone(), &self.scripts.claim);
        let found: i64 = self
            .run("claim", async move {
                script
                    .key(redis_key)
                    .key(seen_key)
                    .arg(value)
                    .arg(millis(lease))
                    .arg(millis(PROCESSED_KEEP))
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        match found {
            0 => {
                self.claims().insert(key.to_owned(), token);
                Ok(Claim::Claimed)
            }
            1 => Ok(Claim::AlreadyProcessed),
            2 => Ok(Claim::InProgress),
            other => Err(StoreError(format!("Redis claim gave an unexpected answer {other}"))),
        }
    }

    async fn finish_delivery(&self, key: &str, keep: Duration) -> Result<(), StoreError> {
        let mut conn = self.commands.clone();
        let redis_key = self.keys.delivery(key);
        // The token is dropped whatever Redis answers: a claim not marked done expires by itself.
        self.claims().remove(key);
        self.run("SET", async move {
            ::redis::cmd("SET")
                .arg(redis_key)
                .arg("done")
                .arg("PX")
                .arg(millis(keep))
                .query_async::<()>(&mut conn)
                .await
        })
        .await
    }

    async fn release_delivery(&self, key: &str) -> Result<(), StoreError> {
        // Without a token this instance holds no claim on `key`: nothing to give up. The token
        // is dropped whatever Redis answers (an unreleased claim ends with its lease).
        let Some(token) = self.claims().remove(key) else { return Ok(()) };
        let mut conn = self.commands.clone();
        let (redis_key, script) = (self.keys.delivery(key), &self.scripts.release);
        self.run("release", async move { script.key(redis_key).arg(token).invoke_async::<i64>(&mut conn).await })
            .await
            .map(|_| ())
    }

    async fn delivery_seen(&self, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.commands.clone();
        let seen_key = self.keys.seen(key);
        let found: i64 = self
            .run("EXISTS", async move { ::redis::cmd("EXISTS").arg(seen_key).query_async(&mut conn).await })
            .await?;
        Ok(found == 1)
    }

    async fn record_auth(&self, user: &TerraUser, keep: Duration) -> Result<(), StoreError> {
        let json = serde_json::to_string(user).map_err(|e| StoreError(format!("auth event not serialisable: {e}")))?;
        let mut conn = self.commands.clone();
        let script = &self.scripts.record_auth;
        let (auth, revoked, channel) =
            (self.keys.auth(&user.user_id), self.keys.revoked(&user.user_id), self.keys.channel());
        let user_id = user.user_id.clone();
        let recorded: i64 = self
            .run("record_auth", async move {
                script
                    .key(auth)
                    .key(revoked)
                    .arg(json)
                    .arg(millis(keep))
                    .arg(channel)
                    .arg(user_id)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        if recorded == 1 {
            // This instance's waiters do not depend on the pub/sub round trip.
            self.local.wake(&user.user_id);
        }
        Ok(())
    }

    async fn wait_for_auth(&self, user_id: &str, wait: Duration) -> Result<Option<TerraUser>, StoreError> {
        let deadline = Instant::now() + wait;
        let watch = self.local.watch(user_id);
        loop {
            // Registered before reading, so a wake-up between the read and the wait is kept.
            let woken = watch.notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(user) = self.get_auth(user_id).await? {
                return Ok(Some(user));
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn revoke(&self, user_id: &str, keep: Duration) -> Result<(), StoreError> {
        let mut conn = self.commands.clone();
        let (auth, revoked) = (self.keys.auth(user_id), self.keys.revoked(user_id));
        self.run("revoke", async move {
            ::redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(auth)
                .ignore()
                .cmd("SET")
                .arg(revoked)
                .arg(1)
                .arg("PX")
                .arg(millis(keep))
                .ignore()
                .query_async::<()>(&mut conn)
                .await
        })
        .await
    }

    async fn hit_rate_limit(&self, client: &str, per_minute: u32) -> Result<RateDecision, StoreError> {
        // "At most 0 per minute" refuses everything (the binary's configuration allows 1 and up).
        if per_minute == 0 {
            return Ok(RateDecision::Limited { retry_after_secs: 60 });
        }
        // One request every `interval` microseconds, `per_minute` at once at most.
        let interval = 60_000_000u64.div_ceil(u64::from(per_minute));
        let mut conn = self.commands.clone();
        let (key, script) = (self.keys.rate(client), &self.scripts.rate);
        let (allowed, wait_micros): (i64, i64) =
            self.run("rate limit", async move {
                script.key(key).arg(interval).arg(per_minute).invoke_async(&mut conn).await
            })
            .await?;
        if allowed == 1 {
            Ok(RateDecision::Allowed)
        } else {
            let wait = u64::try_from(wait_micros).unwrap_or(0);
            Ok(RateDecision::Limited { retry_after_secs: wait.div_ceil(1_000_000).max(1) })
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.commands.clone();
        self.run("PING", async move { ::redis::cmd("PING").query_async::<()>(&mut conn).await }).await?;
        if !*self.local.subscribed.borrow() {
            return Err(StoreError("the Redis pub/sub subscription is down (re-subscribing)".into()));
        }
        Ok(())
    }
}

/// The names of everything this store keeps in Redis.
struct Keys {
    prefix: String,
}

impl Keys {
    fn delivery(&self, key: &str) -> String {
        format!("{}delivery:{key}", self.prefix)
    }
    fn seen(&self, key: &str) -> String {
        format!("{}seen:{key}", self.prefix)
    }
    fn auth(&self, user_id: &str) -> String {
        format!("{}auth:{user_id}", self.prefix)
    }
    fn revoked(&self, user_id: &str) -> String {
        format!("{}revoked:{user_id}", self.prefix)
    }
    fn rate(&self, client: &str) -> String {
        format!("{}rate:{client}", self.prefix)
    }
    fn channel(&self) -> String {
        format!("{}auth-events", self.prefix)
    }
}

/// The Lua scripts (sent by hash; loaded again by themselves after a Redis restart).
struct Scripts {
    claim: Script,
    release: Script,
    record_auth: Script,
    rate: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            // KEYS[1] delivery, KEYS[2] its "seen" mark; ARGV[1] claim token, ARGV[2] lease
            // (ms), ARGV[3] how long the mark is kept (ms).
            // 0: claimed now, 1: processed before, 2: claimed by someone else.
            claim: Script::new(
                r"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
                    redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
                    return 0
                  end
                  if redis.call('GET', KEYS[1]) == 'done' then return 1 end
                  return 2",
            ),
            // KEYS[1] delivery; ARGV[1] this instance's claim token.
            release: Script::new(
                r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
                  return 0",
            ),
            // KEYS[1] auth event, KEYS[2] revocation; ARGV[1] event JSON, ARGV[2] keep (ms),
            // ARGV[3] channel, ARGV[4] user id. 1: recorded and published, 0: user revoked.
            record_auth: Script::new(
                r"if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
                  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
                  redis.call('PUBLISH', ARGV[3], ARGV[4])
                  return 1",
            ),
            // GCRA. KEYS[1] the client's theoretical arrival time (µs of Redis's clock);
            // ARGV[1] emission interval (µs), ARGV[2] burst. {1, 0} allowed, {0, µs to wait}.
            rate: Script::new(
                r"local clock = redis.call('TIME')
                  local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
                  local interval = tonumber(ARGV[1])
                  local tolerance = interval * (tonumber(ARGV[2]) - 1)
                  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
                  if tat < now then tat = now end
                  if tat - now > tolerance then return {0, tat - tolerance - now} end
                  local next_tat = tat + interval
                  redis.call('SET', KEYS[1], string.format('%.0f', next_tat),
                             'PX', math.max(1, math.ceil((next_tat - now) / 1000)))
                  return {1, 0}",
            ),
        }
    }
}

/// This instance's waiters, by user id, and the state of the pub/sub subscription.
struct Local {
    waiters: Mutex<HashMap<String, Waiters>>,
    subscribed: watch::Sender<bool>,
}

struct Waiters {
    notify: Arc<Notify>,
    count: usize,
}

impl Local {
    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiters>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn watch(self: &Arc<Self>, user_id: &str) -> Watch {
        let mut waiters = self.waiters();
        let entry =
            waiters.entry(user_id.to_owned()).or_insert_with(|| Waiters { notify: Arc::new(Notify::new()), count: 0 });
        entry.count += 1;
        Watch { local: Arc::clone(self), user_id: user_id.to_owned(), notify: Arc::clone(&entry.notify) }
    }

    fn wake(&self, user_id: &str) {
        if let Some(entry) = self.waiters().get(user_id) {
            entry.notify.notify_waiters();
        }
    }

    fn wake_all(&self) {
        for entry in self.waiters().values() {
            entry.notify.notify_waiters();
        }
    }
}

/// One waiter's registration; forgotten when the wait ends.
struct Watch {
    local: Arc<Local>,
    user_id: String,
    notify: Arc<Notify>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut waiters = self.local.waiters();
        if let Some(entry) = waiters.get_mut(&self.user_id) {
            entry.count -= 1;
            if entry.count == 0 {
                waiters.remove(&self.user_id);
            }
        }
    }
}

/// The pub/sub listener: subscribes, wakes the local waiters of each user id it hears, and
/// subscribes again after any loss, for as long as the store lives.
async fn listen(client: Client, channel: String, local: Weak<Local>, bound: Duration, health_check_every: Duration) {
    let mut delay = RESUBSCRIBE_MIN_DELAY;
    let mut lost = false;
    loop {
        let attempt = tokio::time::timeout(bound, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            RedisResult::Ok(pubsub)
        })
        .await;
        match attempt {
            Ok(Ok(pubsub)) => {
                delay = RESUBSCRIBE_MIN_DELAY;
                {
                    let Some(local) = local.upgrade() else { return };
                    local.subscribed.send_replace(true);
                    // Anything published while we were away is read by the waiters now.
                    local.wake_all();
                }
                if lost {
                    tracing::info!("Redis pub/sub subscription is back");
                }
                let (mut sink, mut stream) = pubsub.split();
                loop {
                    tokio::select! {
                        message = stream.next() => {
                            let Some(message) = message else { break };
                            let Some(local) = local.upgrade() else { return };
                            if let Ok(user_id) = message.get_payload::<String>() {
                                local.wake(&user_id);
                            }
                        }
                        _ = tokio::time::sleep(health_check_every) => {
                            let pong = tokio::time::timeout(bound, sink.ping::<Value>()).await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                let Some(local) = local.upgrade() else { return };
                local.subscribed.send_replace(false);
                tracing::warn!("lost the Redis pub/sub subscription: re-subscribing");
                lost = true;
            }
            Ok(Err(e)) if !lost => {
                tracing::warn!("cannot subscribe to Redis pub/sub ({e}): retrying");
                lost = true;
            }
            Err(_) if !lost => {
                tracing::warn!("cannot subscribe to Redis pub/sub (no answer within {bound:?}): retrying");
                lost = true;
            }
            _ => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
    }
}
