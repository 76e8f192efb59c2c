//! The options of `createSession` / `connect`, checked before anything touches the network.

use crate::error::{Error, Result};
use crate::url;

/// Options as they arrive from JavaScript: each one absent or a string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawOptions {
    /// `proxyUrl`: where the terra-connect proxy (or any thin forwarder) is mounted.
    pub proxy_url: Option<String>,
    /// `resource`: the provider, e.g. `FITBIT`.
    pub resource: Option<String>,
    /// `providers`: the providers Terra's widget offers (instead of `resource`); empty: the
    /// providers enabled on the account's Terra dashboard.
    pub providers: Option<Vec<String>>,
    /// `referenceId`: the app's own id for its user.
    pub reference_id: Option<String>,
    /// `successUrl`: where Terra sends the person after a successful login.
    pub success_url: Option<String>,
    /// `failureUrl`: where Terra sends the person after a failed or cancelled login.
    pub failure_url: Option<String>,
    /// `language`: the language of Terra's pages, e.g. `en`.
    pub language: Option<String>,
}

/// What a session connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One provider in Terra's upper-case spelling (`authenticateUser`).
    Provider(String),
    /// Terra's widget, offering these providers (`widget/session`); none: the providers
    /// enabled on the account's Terra dashboard (Terra's default when `providers` is absent).
    Widget(Vec<String>),
}

impl Target {
    /// The provider, or the offered providers joined by commas (Terra's wire form).
    pub fn joined(&self) -> String {
        match self {
            Target::Provider(p) => p.clone(),
            Target::Widget(list) => {
                let mut out = String::new();
                for (i, provider) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(provider);
                }
                out
            }
        }
    }
}

impl Target {
    /// What the pending record names: the provider(s), or `*` for the dashboard's providers.
    pub fn label(&self) -> String {
        match self {
            Target::Widget(list) if list.is_empty() => "*".to_owned(),
            _ => self.joined(),
        }
    }
}

/// Validated options: every field is known to be well-formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// The proxy's base URL without a trailing slash (absolute http(s), or a path from `/`).
    pub proxy_url: String,
    /// What to connect: one provider, or Terra's widget offering several.
    pub target: Target,
    /// The app's id for its user, when given.
    pub reference_id: Option<String>,
    /// The success redirect URL, when given.
    pub success_url: Option<String>,
    /// The failure redirect URL, when given.
    pub failure_url: Option<String>,
    /// The language tag, when given.
    pub language: Option<String>,
}

/// How `connect()` shows Terra's login page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In a new tab; the app's page stays where it is (the default).
    Popup,
    /// In the current tab; the success page calls `completeRedirect()`.
    Redirect,
}

/// The options of `connect()` beyond the session's, as they arrive from JavaScript.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawFlowOptions {
    /// `mode`: `"popup"` (default) or `"redirect"`.
    pub mode: Option<String>,
    /// `fallback`: `"redirect"` to use redirect mode when the tab is blocked.
    pub fallback: Option<String>,
    /// `timeoutMs`: how long to wait for the person, in milliseconds.
    pub timeout_ms: Option<f64>,
    /// `rejectOnTabClose`: reject with `popup_closed` as soon as the tab reads closed.
    pub reject_on_tab_close: Option<bool>,
    /// `verify`: `"proxy"` (also from `true`) or `"webhook"`.
    pub verify: Option<String>,
}

/// Validated flow options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowOptions {
    /// Popup or redirect.
    pub mode: Mode,
    /// Fall back to redirect mode when the browser blocks the tab.
    pub fallback_redirect: bool,
    /// How long to wait for the person, in milliseconds.
    pub timeout_ms: u32,
    /// Reject with `popup_closed` when the tab reads closed even after it left for Terra.
    pub reject_on_tab_close: bool,
    /// Confirm the returned user id with the proxy (`GET {proxyUrl}/connection`).
    pub verify: Option<Verify>,
}

/// How `connect()` confirms the user id the redirect carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// `verify: true`: the proxy asks Terra (`GET {proxyUrl}/connection`).
    Proxy,
    /// `verify: "webhook"`: wait until the proxy received Terra's signed `auth` event
    /// (`GET {proxyUrl}/connection/webhook`).
    Webhook,
}

/// What `verify` accepts, as its error message says it.
pub const VERIFY_VALUES: &str = "must be true, false, \"proxy\" or \"webhook\"";

/// The default `timeoutMs`: 10 minutes.
pub const DEFAULT_TIMEOUT_MS: u32 = 600_000;
/// The longest accepted `timeoutMs`: 24 hours.
pub const MAX_TIMEOUT_MS: u32 = 86_400_000;

impl RawFlowOptions {
    /// Checks the flow options.
    pub fn validate(self) -> Result<FlowOptions> {
        let mode = match self.mode.as_deref() {
            None | Some("popup") => Mode::Popup,
            Some("redirect") => Mode::Redirect,
            Some(_) => return Err(Error::invalid("mode", "must be \"popup\" or \"redirect\"")),
        };
        let fallback_redirect = match self.fallback.as_deref() {
            None | Some("none") => false,
            Some("redirect") => true,
            Some(_) => return Err(Error::invalid("fallback", "must be \"redirect\" or \"none\"")),
        };
        let timeout_ms = match self.timeout_ms {
            None => DEFAULT_TIMEOUT_MS,
            Some(ms) if ms.is_finite() && ms >= 1.0 && ms <= f64::from(MAX_TIMEOUT_MS) => ms as u32,
            Some(_) => return Err(Error::invalid("timeoutMs", "must be a number of milliseconds from 1 to 86400000")),
        };
        Ok(FlowOptions {
            mode,
            fallback_redirect,
            timeout_ms,
            reject_on_tab_close: self.reject_on_tab_close.unwrap_or(false),
            verify: match self.verify.as_deref() {
                None => None,
                Some("proxy") => Some(Verify::Proxy),
                Some("webhook") => Some(Verify::Webhook),
                Some(_) => return Err(Error::invalid("verify", VERIFY_VALUES)),
            },
        })
    }
}

/// Checks that `connect()` can complete: both redirect URLs given and on `page_origin`, the
/// origin whose `localStorage` and `BroadcastChannel` carry the result back.
pub fn require_same_origin_redirects(options: &SessionOptions, page_origin: &str) -> Result<()> {
    for (name, value) in [("successUrl", &options.success_url), ("failureUrl", &options.failure_url)] {
        let Some(value) = value else {
            return Err(Error::invalid(name, "is required by connect(): the result comes back through it"));
        };
        let origin = url::origin_of(value);
        if origin.as_deref() != Some(page_origin) {
            // Both origins named: `localhost` and `127.0.0.1` look alike and are not the same.
            let mut problem = String::from("is on ");
            problem.push_str(origin.as_deref().unwrap_or("no origin"));
            problem.push_str(", not on this page's origin ");
            problem.push_str(page_origin);
            problem.push_str(" (the result comes back through it)");
            return Err(Error::invalid(name, &problem));
        }
    }
    Ok(())
}

/// Longest accepted `referenceId`, in bytes.
pub const MAX_REFERENCE_ID: usize = 1024;
/// Longest accepted redirect URL, in bytes.
pub const MAX_URL: usize = 2048;

impl RawOptions {
    /// Checks every option and returns them normalised, or the first problem found.
    pub fn validate(self) -> Result<SessionOptions> {
        Ok(SessionOptions {
            proxy_url: proxy_url(self.proxy_url)?,
            target: target(self.resource, self.providers)?,
            reference_id: non_empty("referenceId", self.reference_id, MAX_REFERENCE_ID)?,
            success_url: redirect_url("successUrl", self.success_url)?,
            failure_url: redirect_url("failureUrl", self.failure_url)?,
            language: language(self.language)?,
        })
    }
}

/// Checks `proxyUrl` and returns it without trailing slashes.
pub(crate) fn proxy_url(value: Option<String>) -> Result<String> {
    let value = value.ok_or_else(|| Error::invalid("proxyUrl", "is required"))?;
    let trimmed = &value[..value.bytes().rposition(|b| b != b'/').map_or(0, |last| last + 1)];
    let is_path = value.starts_with('/') && !value.starts_with("//");
    if has_bad_chars(&value) || !(is_path || url::is_http_url(trimmed)) || url::find_byte(trimmed, b"?#").is_some() {
        return Err(Error::invalid(
            "proxyUrl",
            "must be an absolute http(s) URL or a path starting with '/', without query or fragment",
        ));
    }
    Ok(trimmed.to_owned())
}

fn target(resource_option: Option<String>, providers: Option<Vec<String>>) -> Result<Target> {
    match (resource_option, providers) {
        (Some(_), Some(_)) => {
            Err(Error::invalid("resource", "and providers exclude each other: one provider, or a widget"))
        }
        (resource_option, None) => resource(resource_option).map(Target::Provider),
        (None, Some(list)) => {
            if list.len() > 64 {
                return Err(Error::invalid(
                    "providers",
                    "must list at most 64 provider names ([] for the dashboard's)",
                ));
            }
            let checked: Result<Vec<String>> = list.into_iter().map(|p| resource(Some(p))).collect();
            checked.map(Target::Widget).map_err(|_| {
                Error::invalid("providers", "must hold Terra provider names such as \"GARMIN\" (letters, digits, '_')")
            })
        }
    }
}

/// Checks a provider name and returns it upper-cased (`fitbit` becomes `FITBIT`).
pub fn resource(value: Option<String>) -> Result<String> {
    let value = value.ok_or_else(|| Error::invalid("resource", "is required, e.g. \"FITBIT\""))?;
    let well_formed = terra_connect_protocol::is_provider_name(&value);
    if !well_formed {
        return Err(Error::invalid(
            "resource",
            "must be a Terra provider name such as \"FITBIT\" or \"GOOGLE_HEALTH\" (letters, digits, '_')",
        ));
    }
    Ok(value.to_ascii_uppercase())
}

/// An optional string option: absent, or 1 to `max` bytes.
pub(crate) fn non_empty(name: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() => Err(Error::invalid(name, "must not be empty (leave it out instead)")),
        Some(v) if v.len() > max => Err(Error::invalid(name, "is too long")),
        other => Ok(other),
    }
}

fn language(value: Option<String>) -> Result<Option<String>> {
    let value = non_empty("language", value, 35)?;
    if let Some(v) = &value {
        if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(Error::invalid("language", "must be a language tag such as \"en\" or \"pt-BR\""));
        }
    }
    Ok(value)
}

/// Checks a redirect URL: absolute, `https`, or `http` only on a loopback host, no credentials.
pub fn redirect_url(name: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = non_empty(name, value, MAX_URL)? else {
        return Ok(None);
    };
    if has_bad_chars(&value) {
        return Err(Error::invalid(name, "must not contain spaces or control characters"));
    }
    let Some(parts) = url::split_absolute(&value) else {
        return Err(Error::invalid(name, "must be an absolute URL such as https://app.example/done"));
    };
    if parts.has_userinfo {
        return Err(Error::invalid(name, "must not carry credentials (user:password@)"));
    }
    let https = parts.scheme.eq_ignore_ascii_case("https") && !parts.host.is_empty();
    let local_http = parts.scheme.eq_ignore_ascii_case("http") && url::is_loopback_host(parts.host);
    if !(https || local_http) {
        return Err(Error::invalid(name, "must use https (http is allowed only for localhost and 127.0.0.1)"));
    }
    Ok(Some(value))
}

fn has_bad_chars(value: &str) -> bool {
    value.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn base() -> RawOptions {
        RawOptions {
            proxy_url: Some("https://api.app.example/api/terra/".into()),
            resource: Some("fitbit".into()),
            ..RawOptions::default()
        }
    }

    fn err(raw: RawOptions) -> String {
        let e = raw.validate().unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        e.message
    }

    #[test]
    fn accepts_minimal_options_and_normalises() {
        let o = base().validate().unwrap();
        assert_eq!(o.proxy_url, "https://api.app.example/api/terra");
        assert_eq!(o.target, Target::Provider("FITBIT".into()));
        assert_eq!(o.reference_id, None);
    }

    #[test]
    fn accepts_full_options() {
        let o = RawOptions {
            proxy_url: Some("/api/terra".into()),
            resource: Some("GOOGLE_HEALTH".into()),
            providers: None,
            reference_id: Some("user-42 é".into()),
            success_url: Some("https://app.example/done?auth=success".into()),
            failure_url: Some("http://127.0.0.1:8787/failed.html".into()),
            language: Some("pt-BR".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(o.proxy_url, "/api/terra");
        assert_eq!(o.success_url.as_deref(), Some("https://app.example/done?auth=success"));
        assert_eq!(o.language.as_deref(), Some("pt-BR"));
    }

    #[test]
    fn requires_proxy_url_and_resource() {
        assert!(err(RawOptions { proxy_url: None, ..base() }).starts_with("proxyUrl"));
        assert!(err(RawOptions { resource: None, ..base() }).starts_with("resource"));
    }

    #[test]
    fn widget_targets() {
        let o = RawOptions { resource: None, providers: Some(vec!["garmin".into(), "OURA".into()]), ..base() }
            .validate()
            .unwrap();
        assert_eq!(o.target, Target::Widget(vec!["GARMIN".into(), "OURA".into()]));
        assert_eq!(o.target.joined(), "GARMIN,OURA");
        assert!(err(RawOptions { providers: Some(vec!["OURA".into()]), ..base() }).starts_with("resource"));
        // No providers named: Terra's widget offers the dashboard's.
        let dashboard = RawOptions { resource: None, providers: Some(vec![]), ..base() }.validate().unwrap();
        assert_eq!(dashboard.target, Target::Widget(vec![]));
        let too_many = (0..65).map(|i| format!("P{i}")).collect();
        assert!(err(RawOptions { resource: None, providers: Some(too_many), ..base() }).starts_with("providers"));
        assert!(err(RawOptions { resource: None, providers: Some(vec!["O URA".into()]), ..base() })
            .starts_with("providers"));
    }

    #[test]
    fn rejects_malformed_resources() {
        for bad in ["", "FIT BIT", "FITBIT;", "1FITBIT", "_X", "ÉTÉ", &"A".repeat(65)] {
            assert!(err(RawOptions { resource: Some(bad.into()), ..base() }).starts_with("resource"), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_proxy_urls() {
        for bad in ["", "api/terra", "//evil.example/x", "ftp://x/y", "https://", "https://a/x?y=1", "/a b"] {
            assert!(err(RawOptions { proxy_url: Some(bad.into()), ..base() }).starts_with("proxyUrl"), "{bad}");
        }
    }

    #[test]
    fn redirect_urls_must_be_https_or_local_http() {
        let ok = ["https://app.example/done", "http://localhost:3000/done", "http://127.0.0.1/x", "http://[::1]:8/x"];
        for good in ok {
            assert!(redirect_url("successUrl", Some(good.into())).is_ok(), "{good}");
        }
        let bad = [
            "http://app.example/done",
            "http://127.0.0.1.evil.example/done",
            "/done",
            "done.html",
            "myapp://done",
            "javascript://x/%0Aalert(1)",
            "https://user:pw@app.example/done",
            "https://app.example/do ne",
            "",
        ];
        for b in bad {
            let e = redirect_url("successUrl", Some(b.into())).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{b}");
            assert!(e.message.starts_with("successUrl"), "{b}");
        }
        assert!(redirect_url("failureUrl", Some(format!("https://a/{}", "x".repeat(MAX_URL)))).is_err());
    }

    #[test]
    fn flow_options_defaults_and_checks() {
        let d = RawFlowOptions::default().validate().unwrap();
        assert_eq!(
            d,
            FlowOptions {
                mode: Mode::Popup,
                fallback_redirect: false,
                timeout_ms: 600_000,
                reject_on_tab_close: false,
                verify: None,
            }
        );
        let r = RawFlowOptions {
            mode: Some("redirect".into()),
            fallback: Some("redirect".into()),
            timeout_ms: Some(1500.0),
            reject_on_tab_close: Some(true),
            verify: Some("webhook".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(
            (r.mode, r.fallback_redirect, r.timeout_ms, r.reject_on_tab_close, r.verify),
            (Mode::Redirect, true, 1500, true, Some(Verify::Webhook))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 86_400_001.0] {
            let e = RawFlowOptions { timeout_ms: Some(bad), ..Default::default() }.validate().unwrap_err();
            assert!(e.message.starts_with("timeoutMs"), "{bad}");
        }
        assert!(RawFlowOptions { mode: Some("tab".into()), ..Default::default() }.validate().is_err());
        assert!(RawFlowOptions { fallback: Some("popup".into()), ..Default::default() }.validate().is_err());
    }

    #[test]
    fn connect_needs_both_redirects_on_the_page_origin() {
        let with = |s: &str, f: &str| {
            RawOptions { success_url: Some(s.into()), failure_url: Some(f.into()), ..base() }.validate().unwrap()
        };
        let origin = "http://127.0.0.1:8787";
        assert!(require_same_origin_redirects(
            &with("http://127.0.0.1:8787/done.html", "http://127.0.0.1:8787/f?x=1"),
            origin
        )
        .is_ok());
        let e =
            require_same_origin_redirects(&with("http://127.0.0.1:9999/done.html", "http://127.0.0.1:8787/f"), origin)
                .unwrap_err();
        assert_eq!(
            e.message,
            "successUrl is on http://127.0.0.1:9999, not on this page's origin http://127.0.0.1:8787 (the result \
             comes back through it)"
        );
        let e = require_same_origin_redirects(&with("http://127.0.0.1:8787/d", "https://app.example/f"), origin)
            .unwrap_err();
        assert!(e.message.starts_with("failureUrl"));
        let e = require_same_origin_redirects(&base().validate().unwrap(), origin).unwrap_err();
        assert!(e.message.starts_with("successUrl"));
    }

    #[test]
    fn rejects_empty_or_odd_optionals() {
        assert!(err(RawOptions { reference_id: Some(String::new()), ..base() }).starts_with("referenceId"));
        let long = "x".repeat(MAX_REFERENCE_ID + 1);
        assert!(err(RawOptions { reference_id: Some(long), ..base() }).starts_with("referenceId"));
        assert!(err(RawOptions { language: Some("en US".into()), ..base() }).starts_with("language"));
        assert!(err(RawOptions { failure_url: Some("nope".into()), ..base() }).starts_with("failureUrl"));
    }
}
