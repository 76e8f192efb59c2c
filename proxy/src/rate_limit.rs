//! A per-client-address token bucket: `limit` requests per minute, bursts up to `limit`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Counts requests per client address.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per minute per address.
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// `Ok` when `client` may make a request now; `Err(seconds)` to wait otherwise.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets so that a flood of addresses cannot grow the map forever.
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity);
        }
        let (tokens, at) = buckets.entry(client).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_limit_then_refuses_then_refills() {
        let limiter = RateLimiter::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(a, t).is_ok());
        }
        let wait = limiter.check_at(a, t).unwrap_err();
        assert_eq!(wait, 20, "one token every 20 s at 3/min");
        assert!(limiter.check_at(b, t).is_ok(), "other addresses have their own bucket");
        assert!(limiter.check_at(a, t + Duration::from_secs(20)).is_ok());
        assert!(limiter.check_at(a, t + Duration::from_secs(21)).is_err());
    }
}
