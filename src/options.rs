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
    /// `referenceId`: the app's own id for its user.
    pub reference_id: Option<String>,
    /// `successUrl`: where Terra sends the person after a successful login.
    pub success_url: Option<String>,
    /// `failureUrl`: where Terra sends the person after a failed or cancelled login.
    pub failure_url: Option<String>,
    /// `language`: the language of Terra's pages, e.g. `en`.
    pub language: Option<String>,
}

/// Validated options: every field is known to be well-formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// The proxy's base URL without a trailing slash (absolute http(s), or a path from `/`).
    pub proxy_url: String,
    /// The provider in Terra's upper-case spelling.
    pub resource: String,
    /// The app's id for its user, when given.
    pub reference_id: Option<String>,
    /// The success redirect URL, when given.
    pub success_url: Option<String>,
    /// The failure redirect URL, when given.
    pub failure_url: Option<String>,
    /// The language tag, when given.
    pub language: Option<String>,
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
            resource: resource(self.resource)?,
            reference_id: non_empty("referenceId", self.reference_id, MAX_REFERENCE_ID)?,
            success_url: redirect_url("successUrl", self.success_url)?,
            failure_url: redirect_url("failureUrl", self.failure_url)?,
            language: language(self.language)?,
        })
    }
}

fn proxy_url(value: Option<String>) -> Result<String> {
    let value = value.ok_or_else(|| Error::invalid("proxyUrl", "is required"))?;
    let trimmed = value.trim_end_matches('/');
    let is_path = value.starts_with('/') && !value.starts_with("//");
    let is_http = url::split_absolute(trimmed).is_some_and(|a| {
        !a.host.is_empty()
            && (a.scheme.eq_ignore_ascii_case("https") || a.scheme.eq_ignore_ascii_case("http"))
    });
    if has_bad_chars(&value) || !(is_path || is_http) || trimmed.contains(['?', '#']) {
        return Err(Error::invalid(
            "proxyUrl",
            "must be an absolute http(s) URL or a path starting with '/', without query or fragment",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Checks a provider name and returns it upper-cased (`fitbit` becomes `FITBIT`).
pub fn resource(value: Option<String>) -> Result<String> {
    let value = value.ok_or_else(|| Error::invalid("resource", "is required, e.g. \"FITBIT\""))?;
    let well_formed = (1..=64).contains(&value.len())
        && value.as_bytes()[0].is_ascii_alphabetic()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(Error::invalid(
            "resource",
            "must be a Terra provider name such as \"FITBIT\" or \"GOOGLE_HEALTH\" (letters, digits, '_')",
        ));
    }
    Ok(value.to_ascii_uppercase())
}

fn non_empty(name: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() => Err(Error::invalid(
            name,
            "must not be empty (leave it out instead)",
        )),
        Some(v) if v.len() > max => Err(Error::invalid(name, "is too long")),
        other => Ok(other),
    }
}

fn language(value: Option<String>) -> Result<Option<String>> {
    let value = non_empty("language", value, 35)?;
    if let Some(v) = &value {
        if !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::invalid(
                "language",
                "must be a language tag such as \"en\" or \"pt-BR\"",
            ));
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
        return Err(Error::invalid(
            name,
            "must not contain spaces or control characters",
        ));
    }
    let Some(parts) = url::split_absolute(&value) else {
        return Err(Error::invalid(
            name,
            "must be an absolute URL such as https://app.example/done",
        ));
    };
    if parts.has_userinfo {
        return Err(Error::invalid(
            name,
            "must not carry credentials (user:password@)",
        ));
    }
    let https = parts.scheme.eq_ignore_ascii_case("https") && !parts.host.is_empty();
    let local_http = parts.scheme.eq_ignore_ascii_case("http") && url::is_loopback_host(parts.host);
    if !(https || local_http) {
        return Err(Error::invalid(
            name,
            "must use https (http is allowed only for localhost and 127.0.0.1)",
        ));
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
        assert_eq!(o.resource, "FITBIT");
        assert_eq!(o.reference_id, None);
    }

    #[test]
    fn accepts_full_options() {
        let o = RawOptions {
            proxy_url: Some("/api/terra".into()),
            resource: Some("GOOGLE_HEALTH".into()),
            reference_id: Some("user-42 é".into()),
            success_url: Some("https://app.example/done?auth=success".into()),
            failure_url: Some("http://127.0.0.1:8787/failed.html".into()),
            language: Some("pt-BR".into()),
        }
        .validate()
        .unwrap();
        assert_eq!(o.proxy_url, "/api/terra");
        assert_eq!(
            o.success_url.as_deref(),
            Some("https://app.example/done?auth=success")
        );
        assert_eq!(o.language.as_deref(), Some("pt-BR"));
    }

    #[test]
    fn requires_proxy_url_and_resource() {
        assert!(err(RawOptions {
            proxy_url: None,
            ..base()
        })
        .starts_with("proxyUrl"));
        assert!(err(RawOptions {
            resource: None,
            ..base()
        })
        .starts_with("resource"));
    }

    #[test]
    fn rejects_malformed_resources() {
        for bad in [
            "",
            "FIT BIT",
            "FITBIT;",
            "1FITBIT",
            "_X",
            "ÉTÉ",
            &"A".repeat(65),
        ] {
            assert!(
                err(RawOptions {
                    resource: Some(bad.into()),
                    ..base()
                })
                .starts_with("resource"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_proxy_urls() {
        for bad in [
            "",
            "api/terra",
            "//evil.example/x",
            "ftp://x/y",
            "https://",
            "https://a/x?y=1",
            "/a b",
        ] {
            assert!(
                err(RawOptions {
                    proxy_url: Some(bad.into()),
                    ..base()
                })
                .starts_with("proxyUrl"),
                "{bad}"
            );
        }
    }

    #[test]
    fn redirect_urls_must_be_https_or_local_http() {
        let ok = [
            "https://app.example/done",
            "http://localhost:3000/done",
            "http://127.0.0.1/x",
            "http://[::1]:8/x",
        ];
        for good in ok {
            assert!(
                redirect_url("successUrl", Some(good.into())).is_ok(),
                "{good}"
            );
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
        assert!(redirect_url(
            "failureUrl",
            Some(format!("https://a/{}", "x".repeat(MAX_URL)))
        )
        .is_err());
    }

    #[test]
    fn rejects_empty_or_odd_optionals() {
        assert!(err(RawOptions {
            reference_id: Some(String::new()),
            ..base()
        })
        .starts_with("referenceId"));
        let long = "x".repeat(MAX_REFERENCE_ID + 1);
        assert!(err(RawOptions {
            reference_id: Some(long),
            ..base()
        })
        .starts_with("referenceId"));
        assert!(err(RawOptions {
            language: Some("en US".into()),
            ..base()
        })
        .starts_with("language"));
        assert!(err(RawOptions {
            failure_url: Some("nope".into()),
            ..base()
        })
        .starts_with("failureUrl"));
    }
}
