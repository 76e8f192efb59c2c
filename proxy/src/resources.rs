//! Which providers the proxy creates sessions for: a configured list, or Terra's live
//! `GET /integrations` list, cached and refreshed; when Terra's list cannot be fetched, any
//! well-formed name is accepted (and Terra itself answers for unknown ones).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::ApiError;

/// How long a fetched list is used before it is fetched again.
pub(crate) const REFRESH: Duration = Duration::from_secs(60 * 60);
/// How long to wait before trying again after a failed fetch.
pub(crate) const RETRY: Duration = Duration::from_secs(60);

/// The largest provider list read, in bytes.
const MAX_LIST_BODY: usize = 1024 * 1024;

/// The cached list (`None` after a failed fetch) and when to fetch it again.
type Cache = RwLock<Option<(Option<Arc<HashSet<String>>>, Instant)>>;

/// The provider allowlist.
pub(crate) enum Resources {
    /// A fixed list (`TERRA_CONNECT_ALLOWED_RESOURCES`).
    Fixed(HashSet<String>),
    /// Terra's live list at `url`, cached.
    Live {
        /// `{base}/integrations`.
        url: String,
        /// The client used to fetch it.
        http: reqwest::Client,
        /// The cache: the list (`None` after a failed fetch) and when to fetch again. Read
        /// without waiting; only a refresh takes `refresh`.
        cache: Cache,
        /// Held while one request refreshes the cache, so that others do not fetch too.
        refresh: Mutex<()>,
    },
}

impl Resources {
    /// Terra's live list from `{api_base}/integrations`.
    pub(crate) fn live(api_base: &str, timeout: Duration) -> Resources {
        let http = reqwest::Client::builder().timeout(timeout).build().expect("a reqwest client always builds");
        Resources::Live {
            url: format!("{}/integrations", api_base.trim_end_matches('/')),
            http,
            cache: RwLock::new(None),
            refresh: Mutex::new(()),
        }
    }

    /// `Ok` when `resource` (already well-formed and upper-case) may be used;
    /// 403 `resource_not_allowed` otherwise.
    pub(crate) async fn check(&self, resource: &str) -> Result<(), ApiError> {
        let allowed = match self {
            Resources::Fixed(list) => list.contains(resource),
            Resources::Live { url, http, cache, refresh } => {
                let fresh = |cache: &Cache| {
                    let cache = cache.read().unwrap_or_else(|p| p.into_inner());
                    cache.as_ref().filter(|(_, next)| Instant::now() < *next).map(|(list, _)| list.clone())
                };
                let list = match fresh(cache) {
                    Some(list) => list,
                    None => {
                        let _refreshing = refresh.lock().await;
                        match fresh(cache) {
                            Some(list) => list, // another request refreshed it meanwhile
                            None => {
                                let list = fetch(http, url).await.map(Arc::new);
                                if list.is_none() {
                                    tracing::warn!(
                                        "could not fetch Terra's provider list; accepting any well-formed resource for now"
                                    );
                                }
                                let next = Instant::now() + if list.is_some() { REFRESH } else { RETRY };
                                *cache.write().unwrap_or_else(|p| p.into_inner()) = Some((list.clone(), next));
                                list
                            }
                        }
                    }
                };
                list.is_none_or(|list| list.contains(resource))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "resource_not_allowed", self.refusal(resource)))
        }
    }

    /// The message of a refused `resource`: the allowed names, and where they come from.
    fn refusal(&self, resource: &str) -> String {
        let (list, source) = match self {
            Resources::Fixed(list) => (Some(Arc::new(list.clone())), ""),
            Resources::Live { cache, .. } => {
                let cache = cache.read().unwrap_or_else(|p| p.into_inner());
                (cache.as_ref().and_then(|(list, _)| list.clone()), " (Terra's provider list for this account)")
            }
        };
        let mut names: Vec<&str> = list.iter().flat_map(|l| l.iter()).map(String::as_str).collect();
        names.sort_unstable();
        format!("'{resource}' is not an allowed provider; this proxy allows {}{source}", names.join(", "))
    }
}

/// Reads `providers` and `sdk_providers` (strings, or objects with a `provider`/`name`).
async fn fetch(http: &reqwest::Client, url: &str) -> Option<HashSet<String>> {
    let mut response = http.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let bytes = crate::terra::read_capped_to(&mut response, MAX_LIST_BODY).await.ok()??;
    let body: Value = serde_json::from_slice(&bytes).ok()?;
    let mut names = HashSet::new();
    for key in ["providers", "sdk_providers"] {
        for item in body.get(key).and_then(Value::as_array).into_iter().flatten() {
            let name =
                item.as_str().or_else(|| item.get("provider").or_else(|| item.get("name")).and_then(Value::as_str));
            if let Some(name) = name {
                names.insert(name.to_ascii_uppercase());
            }
        }
    }
    (!names.is_empty()).then_some(names)
}
