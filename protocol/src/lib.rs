//! # terra-connect-protocol
//!
//! The facts the terra-connect client (`terra-connect`, wasm), the proxy
//! (`terra-connect-proxy`) and its Terra sandbox must agree on, each defined once here:
//!
//! - [`is_provider_name`]: which strings are Terra provider names;
//! - [`is_user_id`]: which strings are Terra user ids the proxy looks up;
//! - [`path`]: the proxy's connection-management routes, under its prefix;
//! - [`body`]: the field names of the session bodies (Terra's own wire names);
//! - [`code`]: the `code` values of the proxy's `{"status":"error","code","message"}` answers;
//! - [`MAX_WAIT_MS`]: the longest `GET /connection/webhook` long poll.
//!
//! The crate has no dependencies and no allocation, so linking it costs the wasm client only
//! what it uses.

#![no_std]
#![warn(missing_docs)]

/// Longest provider name, in bytes.
pub const MAX_PROVIDER_LEN: usize = 64;

/// Whether `name` is a Terra provider name as written by a caller: 1 to
/// [`MAX_PROVIDER_LEN`] ASCII letters, digits or `_`, starting with a letter. Lower case is
/// accepted; both sides upper-case it (`fitbit` is `FITBIT`) before use.
pub fn is_provider_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=MAX_PROVIDER_LEN).contains(&bytes.len())
        && bytes[0].is_ascii_alphabetic()
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Longest user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

/// Whether `id` can be a Terra user id: 1 to [`MAX_USER_ID_LEN`] ASCII letters, digits, `-`
/// or `_` (Terra's ids are UUIDs). The client refuses anything else before a request; the
/// proxy answers it 400 before asking Terra.
pub fn is_user_id(id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The proxy's connection-management routes, each relative to the proxy's prefix (the
/// client's `proxyUrl`).
pub mod path {
    /// `GET`: the owner's active connections, `{"connections":[…]}`; `DELETE {CONNECTIONS}/{user_id}`
    /// disconnects one (204).
    pub const CONNECTIONS: &str = "/connections";
    /// `GET`: the providers the account offers and the proxy allows, `{"providers":[…]}`.
    pub const PROVIDERS: &str = "/providers";
}

/// The field names of the session request bodies (`POST {proxy}/auth/authenticateUser` and
/// `POST {proxy}/widget/session`), in Terra's own spelling.
pub mod body {
    /// The app's own id for its user; Terra sends it back on the redirect.
    pub const REFERENCE_ID: &str = "reference_id";
    /// Where Terra sends the person after a successful login.
    pub const SUCCESS_REDIRECT_URL: &str = "auth_success_redirect_url";
    /// Where Terra sends the person after a failed or cancelled login.
    pub const FAILURE_REDIRECT_URL: &str = "auth_failure_redirect_url";
    /// The language of Terra's pages.
    pub const LANGUAGE: &str = "language";
    /// Widget sessions only: the offered providers, one comma-separated string.
    pub const PROVIDERS: &str = "providers";

    /// The fields of `auth/authenticateUser` that are forwarded to Terra; every other field is
    /// dropped.
    pub const SESSION_FIELDS: [&str; 4] = [REFERENCE_ID, SUCCESS_REDIRECT_URL, FAILURE_REDIRECT_URL, LANGUAGE];
}

/// The `code` of the proxy's error answers (`{"status":"error","code","message"}`).
pub mod code {
    /// 400: `resource` missing or not a provider name ([`crate::is_provider_name`]).
    pub const INVALID_RESOURCE: &str = "invalid_resource";
    /// 403: a provider not on the allowlist.
    pub const RESOURCE_NOT_ALLOWED: &str = "resource_not_allowed";
    /// 400: the body is not a JSON object, or a field is not a string.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// 403: a redirect URL the proxy does not allow.
    pub const REDIRECT_NOT_ALLOWED: &str = "redirect_not_allowed";
    /// 413: the body is too large.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
    /// 415: no `Content-Type: application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// 429: over the rate limit.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// 404: `GET /connection` and `/connection/webhook` confirm nothing (no hint why); the
    /// client turns it into `not_verified`.
    pub const NOT_FOUND: &str = "not_found";
    /// 400: `/connection` and `/connection/webhook` without a `reference_id` on a proxy that has
    /// no reference-id hook: it cannot tell whose user it is. The client turns it (and
    /// [`WEBHOOKS_NOT_CONFIGURED`]) into `verify_unavailable`.
    pub const REFERENCE_ID_REQUIRED: &str = "reference_id_required";
    /// 503: `/connection/webhook` without a webhook secret.
    pub const WEBHOOKS_NOT_CONFIGURED: &str = "webhooks_not_configured";
    /// Terra's 4xx.
    pub const UPSTREAM_REJECTED: &str = "upstream_rejected";
    /// 502: Terra refused the connection.
    pub const UPSTREAM_UNREACHABLE: &str = "upstream_unreachable";
    /// 502: Terra answered 5xx or garbage.
    pub const UPSTREAM_ERROR: &str = "upstream_error";
    /// 504: Terra took longer than the timeout.
    pub const UPSTREAM_TIMEOUT: &str = "upstream_timeout";
}

/// The longest `GET {proxy}/connection/webhook?wait_ms=…` waits, in milliseconds: the proxy
/// caps `wait_ms` at it, and the client asks for no more than it.
pub const MAX_WAIT_MS: u32 = 25_000;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn provider_names() {
        for good in ["FITBIT", "fitbit", "GOOGLE_HEALTH", "A", "A1_", &"X".repeat(64).to_string()] {
            assert!(is_provider_name(good), "{good}");
        }
        for bad in ["", "1FITBIT", "_X", "FIT BIT", "FITBIT!", "ÉTÉ", &"X".repeat(65).to_string()] {
            assert!(!is_provider_name(bad), "{bad}");
        }
    }

    #[test]
    fn user_ids() {
        for good in ["ae53b0a6-1f2e-4c3d-9b8a-7f6e5d4c3b2a", "u", "A_1-b", &"x".repeat(128).to_string()] {
            assert!(is_user_id(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "a%2Fb", "ü", "a?b", &"x".repeat(129).to_string()] {
            assert!(!is_user_id(bad), "{bad}");
        }
    }

    #[test]
    fn session_fields_are_terras_names() {
        assert_eq!(
            body::SESSION_FIELDS,
            ["reference_id", "auth_success_redirect_url", "auth_failure_redirect_url", "language"]
        );
    }
}
