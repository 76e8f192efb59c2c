//! The `auth` events the webhook route has verified, kept for a while so that a browser can
//! wait for the one of its own flow (`GET /connection/webhook`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::webhook::TerraUser;

/// How long a received event is kept.
pub const KEEP: Duration = Duration::from_secs(15 * 60);

/// Verified `auth` success events by user id.
#[derive(Default)]
pub struct AuthEvents {
    users: Mutex<HashMap<String, (TerraUser, Instant)>>,
    arrived: Notify,
}

impl AuthEvents {
    /// Records a verified connection and wakes the waiters.
    pub fn record(&self, user: TerraUser) {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, (_, at)| at.elapsed() < KEEP);
        users.insert(user.user_id.clone(), (user, Instant::now()));
        drop(users);
        self.arrived.notify_waiters();
    }

    fn get(&self, user_id: &str) -> Option<TerraUser> {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.get(user_id).filter(|(_, at)| at.elapsed() < KEEP).map(|(u, _)| u.clone())
    }

    /// The event for `user_id`, waiting up to `wait` for it to arrive.
    pub async fn wait_for(&self, user_id: &str, wait: Duration) -> Option<TerraUser> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let arrived = self.arrived.notified();
            if let Some(user) = self.get(user_id) {
                return Some(user);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.get(user_id);
            }
        }
    }
}
