//! Checks on what a browser sends, before anything is forwarded to Terra (pure).

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest request body accepted, in bytes.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// The body fields of `auth/authenticateUser` that are forwarded; every other field is dropped.
pub(crate) use terra_connect_protocol::body::SESSION_FIELDS;

/// A provider name: 1 to 64 of `A-Z 0-9 _`, starting with a letter; lower case is upper-cased.
pub(crate) fn resource(value: Option<&str>) -> Result<String, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_resource", "query parameter 'resource' is required")
    })?;
    let ok = terra_connect_protocol::is_provider_name(value);
    if !ok {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "'resource' must be a Terra provider name such as FITBIT (letters, digits, '_')",
        ));
    }
    Ok(value.to_ascii_uppercase())
}

/// Rules for redirect URLs.
#[derive(Clone, Debug, Default)]
pub(crate) struct RedirectPolicy {
    /// Accept `http://` on loopback hosts (the sandbox and local development).
    pub(crate) allow_loopback_http: bool,
    /// When set, the only origins (e.g. `https://app.example`) redirect URLs may point to.
    pub(crate) allowed_origins: Option<Vec<String>>,
}

/// A redirect URL: absolute, no credentials, `https` (or `http` on loopback when allowed), and
/// on an allowed origin when the policy lists them. Returns the URL's normalised
/// serialisation: what was checked is what is forwarded (a raw `https://app.example\@evil/`
/// would read as host `evil` to an RFC 3986 parser; its serialisation `https://app.example/@evil/` cannot).
pub(crate) fn redirect_url(field: &str, value: &str, policy: &RedirectPolicy) -> Result<String, ApiError> {
    let refuse = |why: &str| ApiError::new(StatusCode::FORBIDDEN, "redirect_not_allowed", format!("'{field}' {why}"));
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("must not contain spaces or control characters"));
    }
    let url = url::Url::parse(value).map_err(|_| refuse("must be an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback && policy.allow_loopback_http => {}
        _ => return Err(refuse("must be an https URL")),
    }
    match &policy.allowed_origins {
        Some(origins) if !origins.contains(&url.origin().ascii_serialization()) => {
            Err(refuse("points outside the allowed origins (TERRA_CONNECT_ALLOWED_REDIRECTS)"))
        }
        _ => Ok(url.into()),
    }
}

/// Parses the JSON body and keeps only [`SESSION_FIELDS`], each of which must be a string.
/// An empty body is an empty object.
pub(crate) fn session_body(bytes: &[u8], policy: &RedirectPolicy) -> Result<Map<String, Value>, ApiError> {
    body_fields(bytes, policy, &SESSION_FIELDS)
}

/// The widget body: the session fields plus the optional `providers`, Terra's comma-separated
/// list, whose names are checked and upper-cased (without it Terra offers the providers
/// enabled on the account's dashboard). Returns the kept fields and the provider names.
pub(crate) fn widget_body(
    bytes: &[u8],
    policy: &RedirectPolicy,
) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let mut fields = SESSION_FIELDS.to_vec();
    fields.push("providers");
    let mut kept = body_fields(bytes, policy, &fields)?;
    let Some(listed) = kept.get("providers").and_then(Value::as_str).map(str::to_owned) else {
        return Ok((kept, Vec::new()));
    };
    let providers = listed.split(',').map(|p| resource(Some(p.trim()))).collect::<Result<Vec<_>, _>>()?;
    if providers.len() > 64 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            "'providers', when given, must list 1 to 64 providers, comma-separated",
        ));
    }
    kept.insert("providers".to_owned(), Value::String(providers.join(",")));
    Ok((kept, providers))
}

fn body_fields(bytes: &[u8], policy: &RedirectPolicy, fields: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if bytes.len() > MAX_BODY {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is over 16 KiB"));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| ApiError::bad_request("the body is not valid JSON"))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let mut kept = Map::new();
    for &field in fields {
        match object.remove(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {
                return Err(ApiError::bad_request(format!("'{field}' must not be empty")));
            }
            Some(Value::String(s)) => {
                let s = if field.ends_with("_redirect_url") { redirect_url(field, &s, policy)? } else { s };
                kept.insert(field.to_owned(), Value::String(s));
            }
            Some(_) => return Err(ApiError::bad_request(format!("'{field}' must be a string"))),
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &RedirectPolicy = &RedirectPolicy { allow_loopback_http: true, allowed_origins: None };
    const PROD: &RedirectPolicy = &RedirectPolicy { allow_loopback_http: false, allowed_origins: None };

    #[test]
    fn widget_bodies() {
        let (kept, providers) = widget_body(br#"{"providers":"garmin, OURA","language":"en","x":1}"#, PROD).unwrap();
        assert_eq!(providers, ["GARMIN", "OURA"]);
        assert_eq!(Value::Object(kept), serde_json::json!({"providers":"GARMIN,OURA","language":"en"}));
        let (kept, providers) = widget_body(br#"{"language":"en"}"#, PROD).unwrap();
        assert!(providers.is_empty(), "providers is optional");
        assert_eq!(Value::Object(kept), serde_json::json!({"language":"en"}));
        assert!(widget_body(b"{}", PROD).unwrap().1.is_empty());
        for bad in [&br#"{"providers":""}"#[..], br#"{"providers":"GARMIN,,OURA"}"#, br#"{"providers":["GARMIN"]}"#] {
            assert_eq!(
                widget_body(bad, PROD).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let redirect = br#"{"providers":"OURA","auth_success_redirect_url":"http://evil.example/"}"#;
        assert_eq!(widget_body(redirect, PROD).unwrap_err().code, "redirect_not_allowed");
    }

    #[test]
    fn resources() {
        assert_eq!(resource(Some("fitbit")).unwrap(), "FITBIT");
        assert_eq!(resource(Some("GOOGLE_HEALTH")).unwrap(), "GOOGLE_HEALTH");
        for bad in ["", "FIT BIT", "1X", "X;Y", "É", &"A".repeat(65)] {
            assert_eq!(resource(Some(bad)).unwrap_err().code, "invalid_resource", "{bad}");
        }
        assert_eq!(resource(None).unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn redirect_urls() {
        assert!(redirect_url("u", "https://app.example/done?x=1", PROD).is_ok());
        assert!(redirect_url("u", "http://127.0.0.1:8787/done.html", LOCAL).is_ok());
        assert!(redirect_url("u", "http://localhost/done", LOCAL).is_ok());
        assert!(redirect_url("u", "http://[::1]/done", LOCAL).is_ok());
        for bad in [
            "http://127.0.0.1:8787/done.html",
            "http://app.example/done",
            "https://user:pw@app.example/done",
            "/done",
            "javascript:alert(1)",
            "myapp://done",
            "https://app.example/a b",
        ] {
            let e = redirect_url("u", bad, PROD).unwrap_err();
            assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "redirect_not_allowed"), "{bad}");
        }
        assert!(redirect_url("u", "http://127.0.0.1.nip.io/done", LOCAL).is_err());
        // WHATWG URLs (browsers and the url crate alike) read `\` as `/`: the host is app.example,
        // and what is forwarded is the serialisation, which every parser reads the same way.
        assert_eq!(
            redirect_url("u", "https://app.example\\@evil.example/", PROD).unwrap(),
            "https://app.example/@evil.example/"
        );
        assert_eq!(redirect_url("u", "https://APP.example:443/a/../done", PROD).unwrap(), "https://app.example/done");
    }

    #[test]
    fn redirect_allowlist() {
        let policy = RedirectPolicy {
            allow_loopback_http: false,
            allowed_origins: Some(vec!["https://app.example".into(), "https://app.example:8443".into()]),
        };
        assert!(redirect_url("u", "https://app.example/done?x=1", &policy).is_ok());
        assert!(redirect_url("u", "https://APP.example:443/done", &policy).is_ok());
        assert!(redirect_url("u", "https://app.example:8443/done", &policy).is_ok());
        for bad in ["https://evil.example/done", "https://app.example.evil.example/", "https://app.example:9/x"] {
            assert_eq!(redirect_url("u", bad, &policy).unwrap_err().code, "redirect_not_allowed", "{bad}");
        }
    }

    #[test]
    fn bodies_keep_only_known_string_fields() {
        let body =
            br#"{"reference_id":"u1","language":"en","dev_id":"x","extra":{"a":1},"auth_success_redirect_url":null}"#;
        let kept = session_body(body, PROD).unwrap();
        assert_eq!(Value::Object(kept), serde_json::json!({"reference_id":"u1","language":"en"}));
        assert!(session_body(b"", PROD).unwrap().is_empty());
        assert!(session_body(b" \n", PROD).unwrap().is_empty());
    }

    #[test]
    fn bad_bodies() {
        let cases: [(&[u8], StatusCode); 6] = [
            (b"{", StatusCode::BAD_REQUEST),
            (b"[1]", StatusCode::BAD_REQUEST),
            (br#"{"reference_id":42}"#, StatusCode::BAD_REQUEST),
            (br#"{"language":""}"#, StatusCode::BAD_REQUEST),
            (br#"{"auth_failure_redirect_url":"http://evil.example/"}"#, StatusCode::FORBIDDEN),
            (b"\"text\"", StatusCode::BAD_REQUEST),
        ];
        for (body, status) in cases {
            assert_eq!(session_body(body, PROD).unwrap_err().status, status, "{}", String::from_utf8_lossy(body));
        }
        let big = format!(r#"{{"reference_id":"{}"}}"#, "x".repeat(MAX_BODY));
        assert_eq!(session_body(big.as_bytes(), PROD).unwrap_err().status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
