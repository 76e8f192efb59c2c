//! The users the sandbox created: by user id, and by reference id (every user one reference
//! id connected), both bounded like the sandbox's other maps.
//!
//! As Terra does (`TERRA_API.md`, "User lookup"): a user exists from authenticateUser (or a
//! widget pick) on, with its `reference_id`, and `is_authenticated` is false until the person
//! allowed. `active` is `null` until then and `true` after: Terra's reference types `active`
//! as a boolean or null, and a connection counts only with `is_authenticated` and `active`
//! both true, so a login that never finished carries neither.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use super::{lock, Bounded, Expires, USER_TTL};

/// The most user ids one reference id keeps (past that its oldest is forgotten), so a script
/// creating sessions for one reference id cannot grow a list without bound. With at most
/// The index never holds more ids than the user map holds users: a user the map drops (full,
/// or expired) leaves its reference id's list too.
pub const MAX_USERS_PER_REFERENCE: usize = 32;

/// The scopes the sandbox reports once a person allowed.
const SCOPES: &str = "activity,body,daily,sleep";

/// One user, as `userInfo` shows it.
#[derive(Debug, Clone)]
struct User {
    provider: String,
    reference_id: Option<String>,
    authenticated: bool,
    created_at: String,
    last_webhook_update: Option<String>,
    expires: Instant,
}

impl Expires for User {
    fn expires(&self) -> Instant {
        self.expires
    }
}

/// The user ids of one reference id, oldest first. An emptied list stays (it expires like any
/// entry), so that a key is never in [`Bounded`]'s order twice.
#[derive(Debug, Clone)]
struct Reference {
    user_ids: VecDeque<String>,
    expires: Instant,
}

impl Expires for Reference {
    fn expires(&self) -> Instant {
        self.expires
    }
}

/// The sandbox's users. When both maps are locked, `by_id` is locked first.
#[derive(Default)]
pub(super) struct Users {
    by_id: Mutex<Bounded<User>>,
    by_reference: Mutex<Bounded<Reference>>,
}

impl Users {
    /// Records a user that exists but has not finished the login.
    pub(super) fn create(&self, user_id: &str, provider: &str, reference_id: Option<&str>) {
        let user = User {
            provider: provider.to_owned(),
            reference_id: reference_id.map(str::to_owned),
            authenticated: false,
            created_at: timestamp(SystemTime::now()),
            last_webhook_update: None,
            expires: Instant::now() + USER_TTL,
        };
        let mut users = lock(&self.by_id);
        let dropped = users.insert(user_id.to_owned(), user);
        let mut references = lock(&self.by_reference);
        for (gone_id, gone) in dropped {
            if let Some(reference) = gone.reference_id.and_then(|r| references.map.get_mut(&r)) {
                reference.user_ids.retain(|id| *id != gone_id);
            }
        }
        if let Some(reference_id) = reference_id {
            let expires = Instant::now() + USER_TTL;
            match references.map.get_mut(reference_id) {
                Some(reference) => {
                    if Instant::now() >= reference.expires {
                        reference.user_ids.clear();
                    }
                    if reference.user_ids.len() >= MAX_USERS_PER_REFERENCE {
                        reference.user_ids.pop_front();
                    }
                    reference.user_ids.push_back(user_id.to_owned());
                    reference.expires = expires;
                }
                None => {
                    // A reference id the map drops forgets its list; its users stay findable by id.
                    let reference = Reference { user_ids: VecDeque::from([user_id.to_owned()]), expires };
                    references.insert(reference_id.to_owned(), reference);
                }
            }
        }
    }

    /// The person allowed: the user is authenticated and active. `webhook` says whether an
    /// `auth` event goes out now (then `last_webhook_update` is now). The user's object, or
    /// `None` when the user is gone.
    pub(super) fn authenticate(&self, user_id: &str, webhook: bool) -> Option<Value> {
        let mut users = lock(&self.by_id);
        let user = users.map.get_mut(user_id).filter(|u| Instant::now() < u.expires)?;
        user.authenticated = true;
        user.expires = Instant::now() + USER_TTL;
        if webhook {
            user.last_webhook_update = Some(timestamp(SystemTime::now()));
        }
        Some(object(user_id, user))
    }

    /// `userInfo?user_id=`: the user's object and whether the login finished.
    pub(super) fn info(&self, user_id: &str) -> Option<(Value, bool)> {
        let user = lock(&self.by_id).live(user_id)?;
        Some((object(user_id, &user), user.authenticated))
    }

    /// `userInfo?reference_id=`: the objects of every live user of `reference_id`, oldest first.
    pub(super) fn of_reference(&self, reference_id: &str) -> Vec<Value> {
        let users = lock(&self.by_id);
        let references = lock(&self.by_reference);
        let Some(reference) = references.map.get(reference_id).filter(|r| Instant::now() < r.expires) else {
            return Vec::new();
        };
        reference.user_ids.iter().filter_map(|id| users.live(id).map(|u| object(id, &u))).collect()
    }

    /// `deauthenticateUser`: forgets the user; its last object (for the `deauth` event), or
    /// `None` when it was unknown.
    pub(super) fn remove(&self, user_id: &str) -> Option<Value> {
        let mut users = lock(&self.by_id);
        let user = users.map.remove(user_id).filter(|u| Instant::now() < u.expires)?;
        if let Some(reference_id) = &user.reference_id {
            if let Some(reference) = lock(&self.by_reference).map.get_mut(reference_id) {
                reference.user_ids.retain(|id| id != user_id);
            }
        }
        Some(object(user_id, &user))
    }

    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        let users = lock(&self.by_id);
        let references = lock(&self.by_reference);
        (users.len(), references.len())
    }

    /// How many ids the reference index holds in all.
    #[cfg(test)]
    fn indexed_ids(&self) -> usize {
        lock(&self.by_reference).map.values().map(|r| r.user_ids.len()).sum()
    }
}

/// A user as Terra shows it in `userInfo` and in webhooks.
fn object(user_id: &str, user: &User) -> Value {
    json!({
        "user_id": user_id,
        "provider": user.provider,
        "reference_id": user.reference_id,
        "active": user.authenticated.then_some(true),
        "created_at": user.created_at,
        "last_webhook_update": user.last_webhook_update,
        "scopes": user.authenticated.then_some(SCOPES),
    })
}

/// `t` as an ISO 8601 / RFC 3339 time in UTC with microseconds, e.g.
/// `2026-12-02T19:56:14.123456Z` (humantime's formatter: a well-kept crate, so no date
/// arithmetic of our own).
pub(super) fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::super::MAX_ENTRIES;
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(timestamp(leap), "2024-02-29T12:34:56.789000Z");
    }

    #[test]
    fn users_by_id_and_reference_until_removed() {
        let users = Users::default();
        users.create("u1", "OURA", Some("r"));
        users.create("u2", "GARMIN", Some("r"));
        users.create("u3", "OURA", None);
        let (user, authenticated) = users.info("u1").unwrap();
        assert!(!authenticated);
        assert_eq!((user["active"].clone(), user["scopes"].clone()), (Value::Null, Value::Null));
        assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
        let authenticated = users.authenticate("u1", true).unwrap();
        assert_eq!(authenticated["active"], true);
        assert!(authenticated["last_webhook_update"].is_string());
        assert!(users.info("u1").unwrap().1);
        let listed: Vec<Value> = users.of_reference("r").iter().map(|u| u["user_id"].clone()).collect();
        assert_eq!(listed, [json!("u1"), json!("u2")]);
        assert!(users.of_reference("other").is_empty());
        assert_eq!(users.remove("u1").unwrap()["provider"], "OURA");
        assert!(users.info("u1").is_none() && users.remove("u1").is_none());
        assert_eq!(users.of_reference("r").len(), 1);
        users.remove("u2");
        assert!(users.of_reference("r").is_empty());
        assert_eq!((users.counts().0, users.indexed_ids()), (1, 0));
    }

    #[test]
    fn one_reference_id_keeps_a_bounded_list() {
        let users = Users::default();
        for i in 0..MAX_USERS_PER_REFERENCE + 50 {
            users.create(&format!("u{i}"), "OURA", Some("flood"));
        }
        let listed = users.of_reference("flood");
        assert_eq!(listed.len(), MAX_USERS_PER_REFERENCE);
        assert_eq!(listed[0]["user_id"], "u50", "the oldest are forgotten first");
    }

    #[test]
    fn users_the_map_drops_leave_the_index() {
        let users = Users::default();
        for i in 0..MAX_USERS_PER_REFERENCE {
            users.create(&format!("a{i}"), "OURA", Some("a"));
        }
        // Other users push every user of "a" out of the user map.
        for i in 0..MAX_ENTRIES {
            users.create(&format!("b{i}"), "OURA", None);
        }
        assert!(users.of_reference("a").is_empty(), "forgotten users are not listed");
        assert_eq!(users.indexed_ids(), 0, "nor kept in the index");
        users.create("a-new", "OURA", Some("a"));
        assert_eq!(users.of_reference("a").len(), 1);
    }

    #[test]
    fn many_reference_ids_stay_within_the_map_bound() {
        let users = Users::default();
        for i in 0..MAX_ENTRIES + 100 {
            users.create(&format!("u{i}"), "OURA", Some(&format!("r{i}")));
        }
        let (by_id, by_reference) = users.counts();
        assert_eq!((by_id, by_reference), (MAX_ENTRIES, MAX_ENTRIES));
        assert!(users.of_reference("r0").is_empty());
        assert_eq!(users.of_reference(&format!("r{}", MAX_ENTRIES + 99)).len(), 1);
    }
}
