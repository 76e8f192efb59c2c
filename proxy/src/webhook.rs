//! Terra's signed webhooks: the signature check and the typed events (pure).
//!
//! Terra signs each POST with `X-Terra-Signature: t=<unix seconds>,v1=<hex>` (and the
//! deprecated duplicate `terra-signature`), where `<hex>` is HMAC-SHA256 with the signing
//! secret over `<t>.<raw body>`. The check is in two steps so that the header's form and time
//! window are refused before the body is read ([`parse_header`]), and the body is hashed once
//! whatever the number of `v1` values ([`check_body`]); comparisons are constant-time.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How old (or how far in the future) a signature's timestamp may be, in seconds.
pub const TOLERANCE_SECS: u64 = 5 * 60;
/// The most `v1` values one header may carry (secret rotation needs two).
pub const MAX_SIGNATURES: usize = 4;
/// The longest signature header accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 1024;

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    /// No `X-Terra-Signature` / `terra-signature` header.
    Missing,
    /// The header is not `t=<unix>,v1=<64 hex>` (at most [`MAX_SIGNATURES`] `v1`).
    Malformed,
    /// The timestamp is outside [`TOLERANCE_SECS`].
    Stale,
    /// No `v1` signature matches the body.
    Mismatch,
}

impl SignatureError {
    /// A message for the 401 answer.
    pub(crate) fn message(self) -> &'static str {
        match self {
            SignatureError::Missing => "the X-Terra-Signature header is missing",
            SignatureError::Malformed => {
                "the X-Terra-Signature header is not t=<unix>,v1=<64 hex digits> (at most 4 v1 values)"
            }
            SignatureError::Stale => "the signature's timestamp is too old or in the future",
            SignatureError::Mismatch => "the signature does not match the body",
        }
    }
}

/// A signature header that has the right form and a fresh timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureHeader {
    /// `t`.
    pub(crate) timestamp: i64,
    /// The `v1` values, decoded.
    pub(crate) signatures: Vec<[u8; 32]>,
}

/// The hex HMAC-SHA256 of `<t>.<body>`: what Terra (and the sandbox) put in `v1`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The `X-Terra-Signature` header value for `body` at `timestamp` (for an app's own tests).
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Step one, before the body is read: the header's form and its time window at `now`.
#[cfg(test)]
pub(crate) fn parse_header(header: Option<&str>, now: i64) -> Result<SignatureHeader, SignatureError> {
    let parsed = parse_form(header)?;
    if !parsed.is_fresh(now) {
        return Err(SignatureError::Stale);
    }
    Ok(parsed)
}

/// The header's form alone (see [`SignatureHeader::is_fresh`] for its time window).
pub(crate) fn parse_form(header: Option<&str>) -> Result<SignatureHeader, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", text)) => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed);
                }
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(text, &mut bytes).map_err(|_| SignatureError::Malformed)?;
                signatures.push(bytes);
            }
            Some(("t", _)) => return Err(SignatureError::Malformed),
            Some(_) => {} // other schemes are ignored
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(SignatureHeader { timestamp, signatures })
}

impl SignatureHeader {
    /// Whether the timestamp is within [`TOLERANCE_SECS`] of `now` (no overflow at any value).
    pub(crate) fn is_fresh(&self, now: i64) -> bool {
        now.abs_diff(self.timestamp) <= TOLERANCE_SECS
    }
}

/// Step two: one HMAC over the raw `body`, compared in constant time with each `v1`.
/// Returns the matching signature.
pub(crate) fn check_body(secret: &[u8], header: &SignatureHeader, body: &[u8]) -> Result<[u8; 32], SignatureError> {
    let mac = mac(secret, header.timestamp, body);
    header
        .signatures
        .iter()
        .find(|candidate| mac.clone().verify_slice(&candidate[..]).is_ok())
        .copied()
        .ok_or(SignatureError::Mismatch)
}

/// Both steps: `header` against the raw `body` at `now` (unix seconds).
#[cfg(test)]
pub(crate) fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(i64, [u8; 32]), SignatureError> {
    let parsed = parse_header(header, now)?;
    Ok((parsed.timestamp, check_body(secret, &parsed, body)?))
}

/// A user as Terra's events describe it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TerraUser {
    /// Terra's id for the user.
    pub user_id: String,
    /// The provider, e.g. `FITBIT`.
    pub provider: Option<String>,
    /// The app's id for its user.
    pub reference_id: Option<String>,
}

/// A webhook event, typed for the connection events and raw for everything else.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    /// `auth` with `status: success`: the person connected a wearable.
    AuthSuccess {
        /// The connected user.
        user: TerraUser,
        /// The widget session it came from, if any.
        widget_session_id: Option<String>,
    },
    /// `auth_cancelled` (current reference) or `auth` with `status: error` (older SDKs).
    AuthFailed {
        /// Terra's reason, e.g. `user_denied`.
        reason: Option<String>,
        /// The app's id for its user.
        reference_id: Option<String>,
    },
    /// `user_reauth`: the person connected again; the old user id (when Terra names it) is
    /// replaced and forgotten by the proxy.
    UserReauth {
        /// The replaced user; Terra may send `null`.
        old_user: Option<TerraUser>,
        /// The new user.
        new_user: TerraUser,
    },
    /// `access_revoked`: the person revoked access at the provider.
    AccessRevoked {
        /// The user.
        user: TerraUser,
    },
    /// `deauth`: the app disconnected the user.
    Deauth {
        /// The user.
        user: TerraUser,
    },
    /// `connection_error`: Terra can no longer reach the provider for this user.
    ConnectionError {
        /// The user.
        user: TerraUser,
    },
    /// Any other event, or a known type without the fields it should carry: passed on raw.
    Other {
        /// The `type` field, when there is one.
        event_type: Option<String>,
        /// The whole event.
        raw: Value,
    },
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty() && *s != "null").map(str::to_owned)
}

fn user(value: Option<&Value>, fallback_reference: Option<String>) -> Option<TerraUser> {
    let value = value?;
    Some(TerraUser {
        user_id: text(value, "user_id")?,
        provider: text(value, "provider"),
        reference_id: text(value, "reference_id").or(fallback_reference),
    })
}

/// Reads an event body (already verified).
pub(crate) fn parse_event(event: &Value) -> WebhookEvent {
    let event_type = text(event, "type");
    let reference_id = text(event, "reference_id");
    let typed = match event_type.as_deref() {
        Some("auth") if text(event, "status").as_deref() == Some("error") => {
            Some(WebhookEvent::AuthFailed { reason: text(event, "reason"), reference_id })
        }
        Some("auth") => user(event.get("user"), reference_id)
            .map(|user| WebhookEvent::AuthSuccess { user, widget_session_id: text(event, "widget_session_id") }),
        Some("auth_cancelled") => Some(WebhookEvent::AuthFailed { reason: text(event, "reason"), reference_id }),
        Some("user_reauth") => user(event.get("new_user"), None)
            .map(|new_user| WebhookEvent::UserReauth { old_user: user(event.get("old_user"), None), new_user }),
        Some("access_revoked") => {
            user(event.get("user"), reference_id).map(|user| WebhookEvent::AccessRevoked { user })
        }
        Some("deauth") => user(event.get("user"), reference_id).map(|user| WebhookEvent::Deauth { user }),
        Some("connection_error") => {
            user(event.get("user"), reference_id).map(|user| WebhookEvent::ConnectionError { user })
        }
        _ => None,
    };
    typed.unwrap_or_else(|| WebhookEvent::Other { event_type, raw: event.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_764_000_000;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex = hex::encode(mac.finalize().into_bytes());
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn accepts_a_good_signature_and_refuses_the_rest() {
        let body = br#"{"type":"auth","status":"success"}"#;
        let header = signature_header(SECRET, NOW, body);
        assert_eq!(verify(SECRET, Some(&header), body, NOW).unwrap().0, NOW);
        assert_eq!(verify(SECRET, Some(&header), body, NOW + TOLERANCE_SECS as i64).unwrap().0, NOW);
        assert_eq!(verify(SECRET, None, body, NOW), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("v1=abcd"), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some("t=x,v1=abcd"), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some(&format!("t={NOW},v1=zz")), body, NOW), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some(&header), body, NOW + TOLERANCE_SECS as i64 + 1), Err(SignatureError::Stale));
        assert_eq!(verify(b"other", Some(&header), body, NOW), Err(SignatureError::Mismatch));
        let mut altered = body.to_vec();
        altered[10] ^= 1;
        assert_eq!(verify(SECRET, Some(&header), &altered, NOW), Err(SignatureError::Mismatch));
        let two = format!("t={NOW},v1={},v1={}", "00".repeat(32), sign(SECRET, NOW, body));
        assert!(verify(SECRET, Some(&two), body, NOW).is_ok(), "any v1 may match (secret rotation)");
    }

    #[test]
    fn form_and_window_are_checked_before_the_body_and_without_overflow() {
        let sig = "ab".repeat(32);
        assert!(parse_header(Some(&format!("t={NOW},v1={sig}")), NOW).is_ok());
        // Many empty or short values: refused before any hashing.
        let many_empty = format!("t={NOW},{}", "v1=,".repeat(20_000));
        assert_eq!(parse_header(Some(&many_empty), NOW), Err(SignatureError::Malformed));
        let five = format!("t={NOW}{}", format!(",v1={sig}").repeat(MAX_SIGNATURES + 1));
        assert_eq!(parse_header(Some(&five), NOW), Err(SignatureError::Malformed));
        let four = format!("t={NOW}{}", format!(",v1={sig}").repeat(MAX_SIGNATURES));
        assert_eq!(parse_header(Some(&four), NOW).unwrap().signatures.len(), MAX_SIGNATURES);
        for bad in ["v1=", "v1=abcd", &"a".repeat(63), &"g".repeat(64), &"a".repeat(66)] {
            let header =
                format!("t={NOW},{}", if bad.starts_with("v1") { bad.to_string() } else { format!("v1={bad}") });
            assert_eq!(parse_header(Some(&header), NOW), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(parse_header(Some(&format!("t={NOW},t={NOW},v1={sig}")), NOW), Err(SignatureError::Malformed));
        // Extreme timestamps: stale, never a panic or a wrap-around.
        for (t, now) in [(i64::MIN, NOW), (i64::MAX, NOW), (i64::MIN, i64::MAX), (i64::MAX, i64::MIN), (0, i64::MIN)] {
            assert_eq!(parse_header(Some(&format!("t={t},v1={sig}")), now), Err(SignatureError::Stale), "{t} {now}");
        }
    }

    #[test]
    fn parses_the_connection_events() {
        let success = json!({"type":"auth","status":"success","reference_id":"u42",
            "user":{"user_id":"ae53","provider":"FITBIT","reference_id":"u42"},"widget_session_id":"w1"});
        assert_eq!(
            parse_event(&success),
            WebhookEvent::AuthSuccess {
                user: TerraUser {
                    user_id: "ae53".into(),
                    provider: Some("FITBIT".into()),
                    reference_id: Some("u42".into())
                },
                widget_session_id: Some("w1".into()),
            }
        );
        let cancelled = json!({"type":"auth_cancelled","reason":"user_denied","reference_id":"u42"});
        let old_error = json!({"type":"auth","status":"error","reason":"user_denied","reference_id":"u42"});
        let failed = WebhookEvent::AuthFailed { reason: Some("user_denied".into()), reference_id: Some("u42".into()) };
        assert_eq!(parse_event(&cancelled), failed);
        assert_eq!(parse_event(&old_error), failed);
        let reauth =
            json!({"type":"user_reauth","old_user":{"user_id":"a"},"new_user":{"user_id":"b","provider":"OURA"}});
        assert!(matches!(parse_event(&reauth),
            WebhookEvent::UserReauth { ref new_user, old_user: Some(ref old) } if new_user.user_id == "b" && old.user_id == "a"));
        let reauth_null = json!({"type":"user_reauth","old_user":null,"new_user":{"user_id":"b"},"status":"warning"});
        assert!(
            matches!(parse_event(&reauth_null), WebhookEvent::UserReauth { old_user: None, ref new_user } if new_user.user_id == "b")
        );
        for kind in ["access_revoked", "deauth", "connection_error"] {
            let e = parse_event(&json!({"type": kind, "user": {"user_id": "u"}}));
            assert!(!matches!(e, WebhookEvent::Other { .. }), "{kind}");
        }
    }

    #[test]
    fn unknown_or_incomplete_events_pass_through_raw() {
        let activity = json!({"type":"activity","data":[1,2]});
        assert_eq!(
            parse_event(&activity),
            WebhookEvent::Other { event_type: Some("activity".into()), raw: activity.clone() }
        );
        let no_user = json!({"type":"auth","status":"success"});
        assert!(matches!(parse_event(&no_user), WebhookEvent::Other { .. }));
        assert!(matches!(parse_event(&json!([1])), WebhookEvent::Other { event_type: None, .. }));
    }
}
