//! The provider catalogue: Terra's `GET {base}/integrations/detailed` for this account (sent
//! with the credentials), cached and refreshed, one refresh at a time. The same list answers
//! `GET /providers` and decides which providers sessions may be created for, so the allowlist
//! allows exactly what `/providers` offers.
//!
//! - Without a configured list: a provider must be on Terra's list. While the list cannot be
//!   fetched, any well-formed name is accepted (Terra itself answers for unknown ones) and
//!   `/providers` answers Terra's error (502 / 504).
//! - With a configured list (`TERRA_CONNECT_ALLOWED_RESOURCES`): sessions may be created for
//!   exactly those names, without asking Terra; `/providers` lists those of them that Terra's
//!   list offers, with Terra's names and icons, and while Terra's list cannot be fetched, the
//!   configured names themselves (`name` = the resource, no icon).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::terra::{upstream_error, TerraClient};

/// How long a fetched list is used before it is fetched again.
pub(crate) const REFRESH: Duration = Duration::from_secs(60 * 60);
/// How long to wait before trying again after a failed fetch.
pub(crate) const RETRY: Duration = Duration::from_secs(60);

/// The longest display name passed on, in bytes; a longer (or empty) one is replaced by the
/// resource.
const MAX_NAME_LEN: usize = 200;
/// The longest icon URL passed on, in bytes; a longer one is left out.
const MAX_ICON_LEN: usize = 2048;

/// One provider as `GET /providers` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Provider {
    /// Terra's provider name (upper case), what `authenticateUser?resource=` takes.
    pub(crate) resource: String,
    /// Terra's display name, or the resource when Terra gives none.
    pub(crate) name: String,
    /// Terra's icon: an absolute `https` or `http` URL, else `null`.
    pub(crate) icon: Option<String>,
}

/// The fetched catalogue, in Terra's order.
type Catalogue = Arc<Vec<Provider>>;

/// The last fetch (the catalogue, or why it could not be fetched) and when to fetch again.
type Cache = RwLock<Option<(Result<Catalogue, ApiError>, Instant)>>;

/// The provider catalogue and allowlist.
pub(crate) struct Resources {
    /// The configured list (`TERRA_CONNECT_ALLOWED_RESOURCES`), upper case, in its order.
    fixed: Option<Vec<String>>,
    /// Fetches Terra's list.
    terra: TerraClient,
    /// Read without waiting; only a refresh takes `refresh`.
    cache: Cache,
    /// Held while one request refreshes the cache, so that others do not fetch too.
    refresh: Mutex<()>,
}

impl Resources {
    /// The catalogue of `terra`'s account, restricted to `fixed` when given (upper case).
    pub(crate) fn new(fixed: Option<Vec<String>>, terra: TerraClient) -> Resources {
        let fixed = fixed.map(|list| {
            let mut seen = HashSet::new();
            list.into_iter().filter(|r| seen.insert(r.clone())).collect()
        });
        Resources { fixed, terra, cache: RwLock::new(None), refresh: Mutex::new(()) }
    }

    /// `Ok` when `resource` (already well-formed and upper-case) may be used;
    /// 403 `resource_not_allowed` otherwise. A configured list is used as it is (Terra is not
    /// asked); otherwise Terra's list, and any name while that cannot be fetched.
    pub(crate) async fn check(&self, resource: &str) -> Result<(), ApiError> {
        let allowed = match &self.fixed {
            Some(list) => list.iter().any(|r| r == resource),
            None => match self.catalogue().await {
                Ok(list) => list.iter().any(|p| p.resource == resource),
                Err(_) => true,
            },
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                terra_connect_protocol::code::RESOURCE_NOT_ALLOWED,
                self.refusal(resource),
            ))
        }
    }

    /// What `GET /providers` lists: see the module docs.
    pub(crate) async fn providers(&self) -> Result<Vec<Provider>, ApiError> {
        let catalogue = self.catalogue().await;
        match (&self.fixed, catalogue) {
            (None, Ok(list)) => Ok(list.to_vec()),
            (None, Err(e)) => Err(e),
            (Some(fixed), Ok(list)) => Ok(list.iter().filter(|p| fixed.contains(&p.resource)).cloned().collect()),
            (Some(fixed), Err(_)) => {
                Ok(fixed.iter().map(|r| Provider { resource: r.clone(), name: r.clone(), icon: None }).collect())
            }
        }
    }

    /// The cached catalogue, fetched again when stale (one request fetches; the others wait
    /// for it).
    async fn catalogue(&self) -> Result<Catalogue, ApiError> {
        if let Some(cached) = self.fresh() {
            return cached;
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(cached) = self.fresh() {
            return cached; // another request refreshed it meanwhile
        }
        let fetched = self.terra.integrations_detailed().await.and_then(|body| parse(&body)).map(Arc::new);
        match &fetched {
            Ok(list) => tracing::info!(providers = list.len(), "fetched Terra's provider list (integrations/detailed)"),
            Err(e) => tracing::warn!(
                code = e.code,
                upstream_status = e.upstream_status,
                "could not fetch Terra's provider list (integrations/detailed); {}; trying again in {} s",
                if self.fixed.is_some() {
                    "GET /providers lists the configured providers without names or icons"
                } else {
                    "accepting any well-formed resource for now"
                },
                RETRY.as_secs()
            ),
        }
        let next = Instant::now() + if fetched.is_ok() { REFRESH } else { RETRY };
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some((fetched.clone(), next));
        fetched
    }

    /// The cached result while it is fresh.
    fn fresh(&self) -> Option<Result<Catalogue, ApiError>> {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.as_ref().filter(|(_, next)| Instant::now() < *next).map(|(result, _)| result.clone())
    }

    /// The message of a refused `resource`: the allowed names, and where they come from.
    fn refusal(&self, resource: &str) -> String {
        let (mut names, source) = match &self.fixed {
            Some(list) => (list.clone(), ""),
            None => {
                let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
                let names = match cache.as_ref() {
                    Some((Ok(list), _)) => list.iter().map(|p| p.resource.clone()).collect(),
                    _ => Vec::new(),
                };
                (names, " (Terra's provider list for this account)")
            }
        };
        names.sort_unstable();
        format!("'{resource}' is not an allowed provider; this proxy allows {}{source}", names.join(", "))
    }
}

/// Terra's `{"providers":[{"provider","name","icon","enabled",…}]}`, in Terra's order: entries
/// with `enabled: false`, without a well-formed `provider` or repeating one are left out.
fn parse(body: &Value) -> Result<Vec<Provider>, ApiError> {
    let items = body
        .get("providers")
        .and_then(Value::as_array)
        .ok_or_else(|| upstream_error("Terra's provider list has no 'providers' array"))?;
    let mut seen = HashSet::new();
    let mut providers = Vec::new();
    for item in items {
        if item.get("enabled") == Some(&Value::Bool(false)) {
            continue;
        }
        let Some(resource) = item
            .get("provider")
            .and_then(Value::as_str)
            .filter(|p| terra_connect_protocol::is_provider_name(p))
            .map(str::to_ascii_uppercase)
        else {
            continue;
        };
        if !seen.insert(resource.clone()) {
            continue;
        }
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_NAME_LEN)
            .map_or_else(|| resource.clone(), str::to_owned);
        let icon = item.get("icon").and_then(Value::as_str).and_then(icon_url);
        providers.push(Provider { resource, name, icon });
    }
    Ok(providers)
}

/// `text` as an icon URL: absolute `https` or `http` with a host and no `user:pass@`, at most
/// [`MAX_ICON_LEN`] bytes; normalised (what was checked is what is passed on).
fn icon_url(text: &str) -> Option<String> {
    if text.len() > MAX_ICON_LEN {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    let ok = matches!(url.scheme(), "https" | "http")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then(|| url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terras_detailed_list_is_read_in_order_with_names_and_safe_icons() {
        let body = json!({"status":"success","providers":[
            {"provider":"OURA","name":"Oura","icon":"https://cdn.example/oura.webp","enabled":true,"types":{}},
            {"provider":"fitbit","name":"  ","icon":"javascript:alert(1)"},
            {"provider":"GARMIN","name":"Garmin","icon":"http://cdn.example/g.svg","enabled":false},
            {"provider":"WITHINGS","name":7,"icon":"https://u:p@cdn.example/w.png"},
            {"provider":"../etc","name":"x"},
            {"provider":"OURA","name":"Oura again"},
            {"name":"no provider"},
            "POLAR",
            {"provider":"POLAR","name":"Polar","icon":"data:image/png;base64,AAAA","enabled":"false"},
            {"provider":"COROS","icon":"//cdn.example/c.png"}
        ]});
        let got = parse(&body).unwrap();
        let p = |r: &str, n: &str, i: Option<&str>| Provider {
            resource: r.into(),
            name: n.into(),
            icon: i.map(Into::into),
        };
        assert_eq!(
            got,
            [
                p("OURA", "Oura", Some("https://cdn.example/oura.webp")),
                p("FITBIT", "FITBIT", None),
                p("WITHINGS", "WITHINGS", None),
                p("POLAR", "Polar", None),
                p("COROS", "COROS", None),
            ]
        );
        assert!(parse(&json!({"status":"success"})).is_err());
        assert!(parse(&json!({"providers":[]})).unwrap().is_empty());
    }

    #[test]
    fn icons_are_http_urls_only() {
        assert_eq!(icon_url("https://x.example/a b.png").as_deref(), Some("https://x.example/a%20b.png"));
        assert_eq!(icon_url("http://x.example/i.svg").as_deref(), Some("http://x.example/i.svg"));
        for bad in [
            "ftp://x.example/i",
            "/relative.png",
            "data:,x",
            "https://",
            &format!("https://x.example/{}", "a".repeat(3000)),
        ] {
            assert_eq!(icon_url(bad), None, "{bad}");
        }
    }
}
