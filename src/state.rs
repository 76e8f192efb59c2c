//! The state (CSRF) token and the pending record `connect()` keeps in `localStorage`, and the
//! check `completeRedirect()` makes before it accepts a result.

use crate::error::{Error, ErrorCode, Result};
use crate::redirect::Redirect;
use crate::url;

/// `localStorage` key prefix of pending records (`…<state>`).
pub const PENDING_PREFIX: &str = "terra-connect:pending:";
/// `localStorage` key prefix of delivered results (`…<state>`), the second delivery path.
pub const RESULT_PREFIX: &str = "terra-connect:result:";
/// The `BroadcastChannel` results are posted on.
pub const CHANNEL: &str = "terra-connect";

/// The state for 16 random bytes: 32 lower-case hex digits (128 bits).
pub fn encode_state(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Whether `state` has the form [`encode_state`] gives.
pub fn is_well_formed(state: &str) -> bool {
    state.len() == 32 && state.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `prefix` followed by `state`: a `localStorage` key.
pub fn key(prefix: &str, state: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + state.len());
    out.push_str(prefix);
    out.push_str(state);
    out
}

/// What `connect()` remembers about a flow it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The provider asked for.
    pub resource: String,
    /// The app's id for its user, when given.
    pub reference_id: Option<String>,
    /// When the flow started (ms since the epoch).
    pub started_ms: u64,
    /// When the flow expires (ms since the epoch).
    pub expires_ms: u64,
    /// Whether `connect()` opened a tab for it (popup mode), which the success page closes.
    pub opened_tab: bool,
}

/// Appends `n` in decimal; `format!` costs more wasm.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// A decimal `u64` of 1 to 19 digits (no sign, no overflow); `str::parse` costs more wasm.
fn parse_u64(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

impl Pending {
    /// The record as stored: a query string.
    pub fn to_record(&self) -> String {
        let mut out = String::from("v=1&resource=");
        out.push_str(&url::encode(&self.resource));
        out.push_str("&started=");
        push_u64(&mut out, self.started_ms);
        out.push_str("&expires=");
        push_u64(&mut out, self.expires_ms);
        out.push_str("&tab=");
        out.push(if self.opened_tab { '1' } else { '0' });
        if let Some(reference_id) = &self.reference_id {
            out.push_str("&reference_id=");
            out.push_str(&url::encode(reference_id));
        }
        out
    }

    /// Reads a stored record; `None` for anything malformed.
    pub fn from_record(record: &str) -> Option<Pending> {
        let get = |name: &str| url::query_param(record, name);
        if get("v").as_deref() != Some("1") {
            return None;
        }
        Some(Pending {
            resource: get("resource").filter(|r| !r.is_empty())?,
            reference_id: get("reference_id"),
            started_ms: parse_u64(&get("started")?)?,
            expires_ms: parse_u64(&get("expires")?)?,
            opened_tab: match get("tab")?.as_str() {
                "1" => true,
                "0" => false,
                _ => return None,
            },
        })
    }

    /// Whether the flow is past its expiry at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_ms
    }
}

fn mismatch(why: &str) -> Error {
    Error::new(ErrorCode::StateMismatch, why)
}

/// Accepts `redirect` only for a well-formed state whose pending `record` exists and has not
/// expired at `now_ms`; the caller then deletes the record, so a replay finds none.
pub fn accept(redirect: &Redirect, record: Option<&str>, now_ms: u64) -> Result<Pending> {
    let state = redirect.state.as_deref().ok_or_else(|| mismatch("the redirect URL carries no tc_state"))?;
    if !is_well_formed(state) {
        return Err(mismatch("the redirect URL's tc_state is malformed"));
    }
    let record = record.ok_or_else(|| mismatch("unknown or already used tc_state: nothing was delivered"))?;
    let pending = Pending::from_record(record).ok_or_else(|| mismatch("the pending record is unreadable"))?;
    if pending.is_expired(now_ms) {
        return Err(mismatch("the connection attempt expired"));
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redirect::{parse, Outcome};

    const STATE: &str = "00ff10a0b1c2d3e4f5061728394a5b6c";

    fn pending() -> Pending {
        Pending {
            resource: "FITBIT".into(),
            reference_id: Some("user 42&x".into()),
            started_ms: 1_764_000_000_000,
            expires_ms: 1_764_000_600_000,
            opened_tab: true,
        }
    }

    #[test]
    fn states_are_128_bit_hex() {
        let mut bytes = [0u8; 16];
        bytes[0] = 0x00;
        bytes[1] = 0xff;
        bytes[15] = 0x6c;
        let s = encode_state(&bytes);
        assert_eq!(s.len(), 32);
        assert!(s.starts_with("00ff") && s.ends_with("6c"));
        assert!(is_well_formed(&s));
        for bad in ["", "00FF10a0b1c2d3e4f5061728394a5b6c", "abc", "g0ff10a0b1c2d3e4f5061728394a5b6c"] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert_eq!(key(PENDING_PREFIX, STATE), format!("terra-connect:pending:{STATE}"));
    }

    #[test]
    fn records_round_trip() {
        let p = pending();
        assert_eq!(Pending::from_record(&p.to_record()), Some(p.clone()));
        let bare = Pending { reference_id: None, opened_tab: false, started_ms: 0, ..p };
        assert_eq!(Pending::from_record(&bare.to_record()), Some(bare));
        assert_eq!(push_digits(u64::MAX), "18446744073709551615");
    }

    fn push_digits(n: u64) -> String {
        let mut s = String::new();
        push_u64(&mut s, n);
        s
    }

    #[test]
    fn malformed_records_are_none() {
        for bad in [
            "",
            "v=2&resource=X&started=1&expires=2&tab=1",
            "v=1&resource=&started=1&expires=2&tab=1",
            "v=1&resource=X&started=a&expires=2&tab=1",
            "v=1&resource=X&started=1&expires=2&tab=yes",
        ] {
            assert_eq!(Pending::from_record(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry() {
        let p = pending();
        assert!(!p.is_expired(p.expires_ms - 1));
        assert!(p.is_expired(p.expires_ms));
    }

    #[test]
    fn accepts_only_known_unexpired_states() {
        let url = format!("https://a/done?tc_outcome=success&tc_state={STATE}&user_id=u");
        let redirect = parse(&url).unwrap();
        assert_eq!(redirect.outcome, Outcome::Success);
        let record = pending().to_record();
        let now = pending().started_ms + 1000;
        assert_eq!(accept(&redirect, Some(&record), now).unwrap(), pending());

        let code = |r: Result<Pending>| r.unwrap_err().code;
        assert_eq!(code(accept(&redirect, None, now)), ErrorCode::StateMismatch);
        assert_eq!(code(accept(&redirect, Some(&record), pending().expires_ms)), ErrorCode::StateMismatch);
        assert_eq!(code(accept(&redirect, Some("garbage"), now)), ErrorCode::StateMismatch);
        let no_state = parse("https://a/done?tc_outcome=success&user_id=u").unwrap();
        assert_eq!(code(accept(&no_state, Some(&record), now)), ErrorCode::StateMismatch);
        let odd_state = parse("https://a/done?tc_outcome=success&tc_state=..%2F").unwrap();
        assert_eq!(code(accept(&odd_state, Some(&record), now)), ErrorCode::StateMismatch);
    }
}
