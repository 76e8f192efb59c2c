//! Property test of the request validation: 100 000 generated redirect URLs, resources and
//! bodies (hostile ones on purpose). None may panic, and whatever passes validation must
//! satisfy the rules on its own terms, so nothing invalid can be forwarded.

use std::collections::HashSet;

use crate::validate::{self, RedirectPolicy, SESSION_FIELDS};
use serde_json::{json, Map, Value};

/// xorshift64*: deterministic, so a failure names its seed and iteration.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn noise(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '0', '9', '/', '\\', '?', '#', '@', ':', '%', '.', '&', '=', ' ', '\t', '\n', '\0', 'é',
            '\u{202e}', '[', ']', '"', '<', '\u{ff0f}',
        ];
        (0..self.below(12)).map(|_| CHARS[self.below(CHARS.len())]).collect()
    }
}

fn redirect(rng: &mut Rng) -> String {
    if rng.below(5) == 0 {
        return rng.noise();
    }
    let scheme =
        rng.pick(&["https://", "http://", "HTTPS://", "javascript:", "ftp://", "", "//", "myapp://", "https:/"]);
    let userinfo = rng.pick(&["", "", "", "user:pw@", "@", "app.example@"]);
    let host = rng.pick(&[
        "app.example",
        "APP.example",
        "evil.example",
        "app.example.evil.example",
        "127.0.0.1",
        "localhost",
        "[::1]",
        "127.1",
        "0x7f.1",
        "",
        "xn--80ak6aa92e.com",
        "app.example%2eevil",
    ]);
    let port = rng.pick(&["", "", ":443", ":8443", ":99999", ":x", ":0"]);
    let path = rng.pick(&["/", "/done?tc_outcome=success", "\\@evil.example", "#frag", "/%2e%2e/", ""]);
    format!("{scheme}{userinfo}{host}{port}{path}{}", if rng.below(4) == 0 { rng.noise() } else { String::new() })
}

fn value(rng: &mut Rng, url: String) -> Value {
    match rng.below(8) {
        0 => Value::Null,
        1 => json!(rng.below(100)),
        2 => json!(true),
        3 => json!([url]),
        4 => json!({ "u": url }),
        5 => json!(""),
        _ => Value::String(url),
    }
}

fn body(rng: &mut Rng) -> Vec<u8> {
    if rng.below(10) == 0 {
        return rng.noise().into_bytes();
    }
    let mut object = Map::new();
    let names = [
        "reference_id",
        "auth_success_redirect_url",
        "auth_failure_redirect_url",
        "language",
        "dev_id",
        "x-api-key",
        "providers",
    ];
    for _ in 0..rng.below(6) {
        let name = rng.pick(&names).to_owned();
        let url = redirect(rng);
        object.insert(name, value(rng, url));
    }
    if rng.below(20) == 0 {
        object.insert("reference_id".into(), Value::String("x".repeat(validate::MAX_BODY)));
    }
    serde_json::to_vec(&Value::Object(object)).unwrap()
}

/// The rules, restated independently of `validate`.
fn acceptable_redirect(raw: &str, policy: &RedirectPolicy) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    // Loopback: the name localhost, or an address in 127.0.0.0/8 or ::1 (as the URL parser reads it).
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(h) => h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback && policy.allow_loopback_http);
    let origin_ok = policy.allowed_origins.as_ref().is_none_or(|o| o.contains(&url.origin().ascii_serialization()));
    scheme_ok
        && origin_ok
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[test]
fn hundred_thousand_generated_requests() {
    let policies = [
        RedirectPolicy { allow_loopback_http: false, allowed_origins: None },
        RedirectPolicy { allow_loopback_http: true, allowed_origins: None },
        RedirectPolicy { allow_loopback_http: false, allowed_origins: Some(vec!["https://app.example".into()]) },
    ];
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let (mut accepted, mut refused) = (0u32, 0u32);
    for i in 0..100_000 {
        let policy = &policies[i % policies.len()];

        let raw = redirect(&mut rng);
        let verdict = validate::redirect_url("auth_success_redirect_url", &raw, policy);
        assert_eq!(verdict.is_ok(), acceptable_redirect(&raw, policy), "iteration {i}: {raw:?}");

        let resource = if rng.below(2) == 0 {
            rng.pick(&["FITBIT", "fitbit", "GOOGLE_HEALTH", "X1"]).to_owned()
        } else {
            rng.noise()
        };
        if let Ok(name) = validate::resource(Some(&resource)) {
            assert!(
                name.len() <= 64 && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            );
        }

        let bytes = body(&mut rng);
        match validate::session_body(&bytes, policy) {
            Ok(kept) => {
                accepted += 1;
                assert!(bytes.len() <= validate::MAX_BODY, "iteration {i}");
                let allowed: HashSet<&str> = SESSION_FIELDS.into_iter().collect();
                for (name, value) in &kept {
                    assert!(allowed.contains(name.as_str()), "iteration {i}: forwarded unknown field {name}");
                    let text = value.as_str().unwrap_or_else(|| panic!("iteration {i}: non-string {name}"));
                    assert!(!text.is_empty());
                    if name.ends_with("_redirect_url") {
                        assert!(acceptable_redirect(text, policy), "iteration {i}: forwarded bad redirect {text:?}");
                        let reparsed = url::Url::parse(text).unwrap();
                        assert_eq!(reparsed.as_str(), text, "iteration {i}: forwarded text is not normalised");
                        // Before the query, where an RFC 3986 parser could read a `\` as part of the authority.
                        let head = text.split(['?', '#']).next().unwrap_or_default();
                        assert!(!head.contains('\\'), "iteration {i}: a backslash reached Terra: {text:?}");
                    }
                }
            }
            Err(e) => {
                refused += 1;
                assert!([400, 403, 413].contains(&e.status.as_u16()), "iteration {i}: {}", e.status);
            }
        }
    }
    println!("100000 generated bodies: {accepted} accepted, {refused} refused");
    assert!(accepted > 1000 && refused > 1000, "the generator covers both sides: {accepted}/{refused}");
}
